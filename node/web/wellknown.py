"""Discovery: WebFinger (RFC 7033, as Mastodon uses it), host-meta, and NodeInfo 2.0/2.1 with FEP-2677."""

from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from aiohttp import web

from node.store import actors, objects
from node.web.cache import Rendered
from node.web.negotiation import ACTIVITY_JSON
from node.web.responses import CORS, error_json, rendered_json, to_response
from node.runtime import software_version
from node.web.state import NodeState, state_of

JRD = "application/jrd+json; charset=utf-8"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"
APPLICATION_REL = "https://www.w3.org/ns/activitystreams#Application"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
FOUND_CACHE = {"Cache-Control": "public, max-age=259200"}  # 3 days, as Mastodon: usernames never change
MISS_CACHE = {"Cache-Control": "public, max-age=180"}


class WebfingerMiss(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/.well-known/webfinger", webfinger)
    app.router.add_get("/.well-known/host-meta", host_meta)
    app.router.add_get("/.well-known/nodeinfo", nodeinfo_discovery)
    app.router.add_get("/nodeinfo/{version:2\\.[01]}", nodeinfo)


async def webfinger(request: web.Request) -> web.Response:
    node = state_of(request)
    resource = request.query.get("resource", "").strip()

    async def render() -> Rendered:
        try:
            return await _webfinger_document(node, resource)
        except WebfingerMiss as miss:
            rendered = error_json(miss.status, miss.message, JRD)
            return Rendered(rendered.body, JRD, miss.status, {**rendered.headers, **MISS_CACHE})

    return to_response(await node.cache.get_or_render(("webfinger", resource), render), vary_accept=False)


async def _webfinger_document(node: NodeState, resource: str) -> Rendered:
    username = _username_for_resource(node, resource)
    if username == actors.INSTANCE_USERNAME:
        actor_id, page = node.urls.instance_actor, node.urls.base + "/"
        subject = f"acct:{node.config.domain}@{node.config.domain}"
    else:
        actor = await actors.get(node.db, username)
        if actor is None:
            raise WebfingerMiss(404, f"no actor {username!r} on {node.config.domain}")
        if actor.is_deleted:
            raise WebfingerMiss(410, f"{username!r} was removed from {node.config.domain}")
        actor_id, page = node.urls.actor(actor.username), node.urls.profile_page(actor.username)
        subject = f"acct:{actor.username}@{node.config.domain}"
    document = {
        "subject": subject,
        "aliases": [actor_id, page],
        "links": [
            {"rel": "self", "type": ACTIVITY_JSON, "href": actor_id},
            {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": page},
        ],
    }
    return rendered_json(document, JRD, 200, {**CORS, **FOUND_CACHE})


def _username_for_resource(node: NodeState, resource: str) -> str:
    """The local username a WebFinger resource names (acct: URI or actor URL); WebfingerMiss otherwise."""
    domain = node.config.domain
    if not resource:
        raise WebfingerMiss(400, "the resource parameter is required, e.g. resource=acct:name@" + domain)
    if resource.lower().startswith("acct:"):
        user, at, host = resource[5:].lstrip("@").rpartition("@")
        if not at or not user or not host:
            raise WebfingerMiss(400, f"{resource!r} is not an acct: URI of the form acct:name@host")
        if host.lower() != domain:
            raise WebfingerMiss(404, f"{host!r} is not this node ({domain})")
        return actors.INSTANCE_USERNAME if user.lower() == domain else user.lower()
    if resource.lower().startswith(("https://", "http://")):
        parts = urlsplit(resource)
        if parts.netloc.lower() != domain:
            raise WebfingerMiss(404, f"{parts.netloc!r} is not this node ({domain})")
        normalised = f"{node.config.scheme}://{domain}{parts.path}"
        if parts.path in ("", "/", "/actor"):
            return actors.INSTANCE_USERNAME
        username = node.urls.username_from_actor_iri(normalised)
        if username is None:
            raise WebfingerMiss(404, f"{resource!r} is not an actor on this node")
        return username
    raise WebfingerMiss(400, f"{resource!r} is neither an acct: URI nor an http(s) URL")


async def host_meta(request: web.Request) -> web.Response:
    node = state_of(request)
    template = f"{node.urls.base}/.well-known/webfinger?resource={{uri}}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )
    return web.Response(
        text=body, content_type="application/xrd+xml", charset="utf-8", headers={**CORS, **FOUND_CACHE}
    )


async def nodeinfo_discovery(request: web.Request) -> web.Response:
    base = state_of(request).urls.base
    document = {
        "links": [
            {"rel": NODEINFO_SCHEMA.format(version="2.1"), "href": f"{base}/nodeinfo/2.1"},
            {"rel": NODEINFO_SCHEMA.format(version="2.0"), "href": f"{base}/nodeinfo/2.0"},
            {"rel": APPLICATION_REL, "href": state_of(request).urls.instance_actor},
        ]
    }
    return to_response(rendered_json(document, "application/json", 200, CORS), vary_accept=False)


async def nodeinfo(request: web.Request) -> web.Response:
    node = state_of(request)
    version = request.match_info["version"]

    async def render() -> Rendered:
        document = await nodeinfo_document(node, version)
        content_type = f'application/json; profile="{NODEINFO_SCHEMA.format(version=version)}#"'
        return rendered_json(document, content_type, 200, {**CORS, "Cache-Control": "public, max-age=1800"})

    return to_response(await node.cache.get_or_render(("nodeinfo", version), render), vary_accept=False)


async def nodeinfo_document(node: NodeState, version: str) -> dict:
    by_type = await actors.count_active(node.db)
    activity = await objects.activity_counts(node.db)
    software = {"name": "coopnode", "version": software_version()}
    if version == "2.1":
        software["homepage"] = node.urls.base + "/"
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {
            "users": {
                "total": sum(by_type.values()),
                "activeMonth": activity.active_month,
                "activeHalfyear": activity.active_halfyear,
            },
            "localPosts": activity.local_posts,
        },
        "metadata": {
            "nodeName": node.config.node_name or node.config.domain,
            "nodeDescription": node.config.node_description,
            "coopCommons": {
                "organizations": by_type.get("Organization", 0),
                "hubs": by_type.get("Group", 0),
                "needs": activity.open_needs,
                "offers": activity.open_offers,
            },
        },
    }
