"""Human-readable pages: the node's home, each actor's profile (with its JSON-LD embedded), error pages."""

import json
from datetime import datetime, timezone

import jinja2
from aiohttp import web
from markupsafe import Markup

from node import actors
from node.actors import LocalActor
from node.cache import Rendered
from node.negotiation import HTML
from node.responses import to_response
from node.state import NodeState, state_of
from vocab.profile import IDENTIFIER_SCHEMES, ActorUrls, actor_document, profile_fields, summary_html

CUK_ATTRIBUTION = "Contains Co-operatives UK open data, licensed under ODC-By 1.0"


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("node", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)


def embedded_json_ld(document: dict) -> Markup:
    """JSON for a <script type="application/ld+json"> block; '<' is escaped so no text can close the tag."""
    text = json.dumps(document, ensure_ascii=False, indent=1)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _render(node: NodeState, template: str, status: int = 200, **context) -> Rendered:
    page = node.templates.get_template(template).render(
        node_name=node.config.node_name or node.config.domain, domain=node.config.domain, **context
    )
    return Rendered(page.encode("utf-8"), HTML.media_type, status, {"Cache-Control": "public, max-age=60"})


async def home(request: web.Request) -> web.Response:
    node = state_of(request)

    async def render() -> Rendered:
        hosted = await actors.directory(node.db)
        hubs = [entry for entry in hosted if entry.actor_type == "Group"]
        organisations = [entry for entry in hosted if entry.actor_type != "Group"]
        return _render(
            node, "home.html", hubs=hubs, organisations=organisations,
            description=node.config.node_description, urls=node.urls,
            attribution=CUK_ATTRIBUTION if any(entry.has_cuk_identifier for entry in hosted) else "",
        )

    return to_response(await node.cache.get_or_render(("home",), render))


async def actor_page(node: NodeState, actor: LocalActor, urls: ActorUrls) -> Rendered:
    profile = actor.profile
    published = datetime.fromtimestamp(actor.created_at, timezone.utc)
    document = actor_document(profile, urls, actor.public_key_pem, published, rich=True)
    memberships = [await _actor_link(node, iri) for iri in profile.member_of]
    members = await members_of(node, urls.id) if profile.actor_type == "Group" else []
    return _render(
        node, "actor.html",
        profile=profile, urls=urls, handle=f"@{profile.username}@{node.config.domain}",
        summary=Markup(summary_html(profile.summary)),
        fields=[(field["name"], Markup(field["value"])) for field in profile_fields(profile)],
        identifiers=[(IDENTIFIER_SCHEMES[scheme], value) for scheme, value in profile.identifiers.items()],
        memberships=memberships, members=members, json_ld=embedded_json_ld(document),
        attribution=CUK_ATTRIBUTION if "CUK" in profile.identifiers else "",
    )


async def _actor_link(node: NodeState, iri: str) -> tuple[str, str]:
    """(name, page URL) for an actor IRI: local actors by name, remote ones by their IRI."""
    username = node.urls.username_from_actor_iri(iri)
    if username:
        local = await actors.get(node.db, username)
        if local is not None and not local.is_deleted:
            return local.profile.name, node.urls.profile_page(local.username)
    return iri, iri


async def members_of(node: NodeState, hub_iri: str) -> list[tuple[str, str]]:
    rows = await node.db.fetch_all(
        "SELECT a.username, json_extract(a.profile_json, '$.name') FROM actors a, "
        "json_each(a.profile_json, '$.member_of') m WHERE m.value = ? AND a.deleted_at IS NULL ORDER BY 2",
        (hub_iri,),
    )
    return [(row[1], node.urls.profile_page(row[0])) for row in rows]


async def error_page(node: NodeState, status: int, title: str, message: str) -> Rendered:
    rendered = _render(node, "error.html", status, title=title, message=message)
    return Rendered(rendered.body, rendered.content_type, status, {"Cache-Control": "public, max-age=60"})


async def object_page(node: NodeState, document: dict) -> Rendered:
    """One of our own posts. Its content is HTML we generated from escaped text, so it is shown as is."""
    username = node.urls.username_from_actor_iri(document.get("attributedTo", "")) or ""
    author = await actors.get(node.db, username)
    return _render(node, "object.html", document=document, content=Markup(document.get("content", "")),
                   author=author.profile if author else None,
                   author_page=node.urls.profile_page(username), json_ld=embedded_json_ld(document))
