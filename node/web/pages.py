"""Human-readable pages: the node's home, each actor's profile (with its JSON-LD embedded), error pages."""

import json
import time
from datetime import datetime, timezone

import jinja2
from aiohttp import web
from markupsafe import Markup

from node.store import actors, proposals
from node.store.actors import LocalActor
from node.web.cache import Rendered
from node.web.negotiation import HTML
from node.web.responses import to_response
from node.web.state import NodeState, state_of
from vocab.profile import IDENTIFIER_SCHEMES, ActorUrls, actor_document, profile_fields, summary_html
from vocab.proposal_document import day_words

CUK_ATTRIBUTION = "Contains Co-operatives UK open data, licensed under ODC-By 1.0"


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("node.web", "templates"),
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


def render_page(node: NodeState, template: str, status: int = 200, **context) -> Rendered:
    """A template rendered with what every page shows (the node's name and domain)."""
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
        now = int(time.time())
        return render_page(
            node, "home.html", hubs=hubs, organisations=organisations,
            open_needs=await proposals.count_open(node.db, proposals.Filters(kind="need"), now),
            open_offers=await proposals.count_open(node.db, proposals.Filters(kind="offer"), now),
            description=node.config.node_description, urls=node.urls,
            attribution=CUK_ATTRIBUTION if any(entry.has_cuk_identifier for entry in hosted) else "",
        )

    return to_response(await node.cache.get_or_render(("home",), render))


async def actor_page(node: NodeState, actor: LocalActor, urls: ActorUrls) -> Rendered:
    profile = actor.profile
    published = datetime.fromtimestamp(actor.created_at, timezone.utc)
    document = actor_document(profile, urls, await actors.public_key_pem(node.db, actor.username), published, rich=True)
    memberships = [await _actor_link(node, iri) for iri in profile.member_of]
    members = await members_of(node, urls.id) if profile.actor_type == "Group" else []
    return render_page(
        node, "actor.html",
        profile=profile, urls=urls, handle=f"@{profile.username}@{node.config.domain}",
        summary=Markup(summary_html(profile.summary)),
        fields=[(field["name"], Markup(field["value"])) for field in profile_fields(profile)],
        identifiers=[(IDENTIFIER_SCHEMES[scheme], value) for scheme, value in profile.identifiers.items()],
        memberships=memberships, members=members, json_ld=embedded_json_ld(document),
        needs=await open_proposals_of(node, actor.username, "need"),
        offers=await open_proposals_of(node, actor.username, "offer"),
        attribution=CUK_ATTRIBUTION if "CUK" in profile.identifiers else "",
    )


async def open_proposals_of(node: NodeState, username: str, kind: str) -> list[tuple[str, str, str]]:
    """(title, IRI, end day) of an actor's open needs (or offers), newest first."""
    now = int(time.time())
    return [(row["title"], row["iri"], day_words(datetime.fromtimestamp(row["ends_at"], timezone.utc))
             if row["ends_at"] is not None else "")
            for row in await proposals.own_list(node.db, username, kind)
            if row["status"] == "open" and (row["ends_at"] is None or row["ends_at"] > now)]


async def _actor_link(node: NodeState, iri: str) -> tuple[str, str]:
    """(name, page URL) for an actor IRI: local actors by name, remote ones by their IRI."""
    return await local_actor_link(node, iri) or (iri, iri)


async def local_actor_link(node: NodeState, iri: str) -> tuple[str, str] | None:
    """(name, profile page URL) of a live actor of this node, None for any other IRI."""
    username = node.urls.username_from_actor_iri(iri)
    local = await actors.get(node.db, username) if username else None
    if local is None or local.is_deleted:
        return None
    return local.profile.name, node.urls.profile_page(local.username)


async def members_of(node: NodeState, hub_iri: str) -> list[tuple[str, str]]:
    rows = await node.db.fetch_all(
        "SELECT a.username, json_extract(a.profile_json, '$.name') FROM actors a, "
        "json_each(a.profile_json, '$.member_of') m WHERE m.value = ? AND a.deleted_at IS NULL ORDER BY 2",
        (hub_iri,),
    )
    return [(row[1], node.urls.profile_page(row[0])) for row in rows]


async def error_page(node: NodeState, status: int, title: str, message: str) -> Rendered:
    rendered = render_page(node, "error.html", status, title=title, message=message)
    return Rendered(rendered.body, rendered.content_type, status, {"Cache-Control": "public, max-age=60"})


async def object_page(node: NodeState, document: dict) -> Rendered:
    """One of our own posts. Its content is HTML we generated from escaped text, so it is shown as is."""
    username = node.urls.username_from_actor_iri(document.get("attributedTo", "")) or ""
    author = await actors.get(node.db, username)
    return render_page(node, "object.html", document=document, content=Markup(document.get("content", "")),
                       author=author.profile if author else None,
                       author_page=node.urls.profile_page(username), json_ld=embedded_json_ld(document))
