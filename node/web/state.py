"""What the HTTP handlers share: the node's runtime, the render cache and the page templates."""

from dataclasses import dataclass

import jinja2
from aiohttp import web

from node.config import NodeConfig
from node.runtime import Runtime
from node.store.database import Database
from node.urls import Urls
from node.web.cache import RenderCache


@dataclass(frozen=True)
class NodeState:
    runtime: Runtime
    cache: RenderCache
    templates: jinja2.Environment

    @property
    def config(self) -> NodeConfig:
        return self.runtime.config

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def urls(self) -> Urls:
        return self.runtime.urls


NODE = web.AppKey("node", NodeState)


def state_of(request: web.Request) -> NodeState:
    return request.app[NODE]
