"""Human-readable pages: the node's home, each actor's profile (with its JSON-LD embedded), error pages."""

import json
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from markupsafe import Markup

from federation import remote_actors
from node.store import actors, hub_members, proposals
from node.store.actors import LocalActor
from node.web.cache import Rendered
from node.web.listings import PAGE_SIZE, PageQuery, page_query, pager
from node.web.negotiation import HTML
from node.web.responses import to_response
from node.web.state import NodeState, state_of
from vocab.profile import IDENTIFIER_SCHEMES, ActorUrls, actor_document, profile_fields, summary_html
from vocab.places import CUK_ATTRIBUTION, local_authority_label
from vocab.proposal_document import day_words



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
    query = page_query(request.query)

    async def render() -> Rendered:
        organisations = await actors.directory(node.db, text=query.text, hubs=False, limit=PAGE_SIZE,
                                               offset=query.offset)
        total = await actors.directory_count(node.db, text=query.text, hubs=False)
        now = int(time.time())
        return render_page(
            node, "home.html", hubs=await actors.directory(node.db, hubs=True, limit=PAGE_SIZE),
            hub_count=await actors.directory_count(node.db, hubs=True), organisations=organisations,
            query=query, pager=pager(query, total, len(organisations), "/"),
            organisation_count=await actors.directory_count(node.db, hubs=False),
            open_needs=await proposals.count_open(node.db, proposals.Filters(kind="need"), now),
            open_offers=await proposals.count_open(node.db, proposals.Filters(kind="offer"), now),
            description=node.config.node_description, urls=node.urls,
            attribution=CUK_ATTRIBUTION if await actors.any_from_cuk(node.db) else "",
        )

    return to_response(await node.cache.get_or_render(("home", query), render))


async def actor_page(node: NodeState, actor: LocalActor, urls: ActorUrls, query: PageQuery = PageQuery()) -> Rendered:
    """An actor's profile page; a hub's also lists its members and what it re-shares, a page at a time."""
    profile = actor.profile
    published = datetime.fromtimestamp(actor.created_at, timezone.utc)
    key = await actors.public_key_pem(node.db, actor.username)
    document = actor_document(profile, urls, key, published, rich=True)
    memberships = [await actor_link(node, iri) for iri in profile.member_of]
    is_hub = profile.actor_type == "Group"
    path = node.urls.profile_page(actor.username)
    members, members_pager, reshared, reshared_total = [], None, [], 0
    if is_hub:
        total, rows = await hub_members.member_directory(
            node.db, actor.username, hub_iri=urls.id, actor_prefix=node.urls.actor(""), text=query.text,
            limit=PAGE_SIZE, offset=query.offset)
        members = [(name, node.urls.profile_page(local) if local else _web_url(iri),
                    "" if local else host_of(iri)) for iri, name, local in rows]
        members_pager = pager(query, total, len(members), path)
        reshared_total, rows = await hub_members.reshared_open(node.db, actor.username, int(time.time()),
                                                               limit=PAGE_SIZE)
        reshared = [await _reshared_entry(node, row) for row in rows]
    return render_page(
        node, "actor.html",
        profile=profile, urls=urls, handle=f"@{profile.username}@{node.config.domain}",
        summary=Markup(summary_html(profile.summary)),
        fields=[(field["name"], Markup(field["value"])) for field in profile_fields(profile)],
        identifiers=[(IDENTIFIER_SCHEMES[scheme], value) for scheme, value in profile.identifiers.items()],
        local_authority=local_authority_label(profile.local_authority) if profile.local_authority else "",
        memberships=memberships, is_hub=is_hub, members=members, pager=members_pager, query=query, path=path,
        reshared=reshared, reshared_total=reshared_total, json_ld=embedded_json_ld(document),
        needs=await open_proposals_of(node, actor.username, "need"),
        offers=await open_proposals_of(node, actor.username, "offer"),
        attribution=CUK_ATTRIBUTION if "CUK" in profile.identifiers else "",
    )


async def _reshared_entry(node: NodeState, row) -> dict:
    name, author_url = await actor_link(node, row["actor_iri"])
    ends = day_words(datetime.fromtimestamp(row["ends_at"], timezone.utc)) if row["ends_at"] is not None else ""
    return {"kind": "Need" if row["kind"] == "need" else "Offer", "title": row["title"], "url": row["iri"],
            "author": name, "author_url": author_url, "origin": origin_words(node, row["actor_iri"]), "ends": ends}


async def open_proposals_of(node: NodeState, username: str, kind: str) -> list[tuple[str, str, str]]:
    """(title, IRI, end day) of an actor's open needs (or offers), newest first."""
    now = int(time.time())
    return [(row["title"], row["iri"], day_words(datetime.fromtimestamp(row["ends_at"], timezone.utc))
             if row["ends_at"] is not None else "")
            for row in await proposals.own_list(node.db, username, kind)
            if row["status"] == "open" and (row["ends_at"] is None or row["ends_at"] > now)]


async def actor_link(node: NodeState, iri: str) -> tuple[str, str | None]:
    """(name, page URL) for an actor IRI: ours by profile name, a peer's by the name its document gives (the
    remote-actor cache), else the IRI itself."""
    local = await local_actor_link(node, iri)
    if local is not None:
        return local
    remote = await remote_actors.get(node.db, iri) if iri else None
    if remote is not None:
        name = remote.document.get("name") or remote.preferred_username
        if isinstance(name, str) and name.strip():
            return name.strip(), _web_url(iri)
    return iri or "unknown", _web_url(iri)


def host_of(iri: str) -> str:
    return urlsplit(iri).netloc if isinstance(iri, str) else ""


def origin_words(node: NodeState, actor_iri: str) -> str:
    """Where an item comes from, for people: 'on this node', or the host of the node it comes from."""
    host = host_of(actor_iri)
    return "on this node" if not host or host == node.config.domain else f"from {host}"


def _web_url(value) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


async def local_actor_link(node: NodeState, iri: str) -> tuple[str, str] | None:
    """(name, profile page URL) of a live actor of this node, None for any other IRI."""
    username = node.urls.username_from_actor_iri(iri)
    local = await actors.get(node.db, username) if username else None
    if local is None or local.is_deleted:
        return None
    return local.profile.name, node.urls.profile_page(local.username)


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
