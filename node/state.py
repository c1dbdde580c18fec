"""The one object the HTTP handlers share: config, database, URL layout, caches and templates."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web

from node.cache import RenderCache
from node.config import NodeConfig
from node.db import Database
from node.urls import Urls

if TYPE_CHECKING:
    from node.federation_runtime import Federation


@dataclass
class NodeState:
    config: NodeConfig
    db: Database
    urls: Urls
    cache: RenderCache
    templates: jinja2.Environment
    federation: "Federation | None" = None


NODE = web.AppKey("node", NodeState)


def state_of(request: web.Request) -> NodeState:
    return request.app[NODE]
