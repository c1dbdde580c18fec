"""Needs and offers for people: each one's page, the node-wide listing with its filters, and /tags/{tag}."""

import json
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import quote, urlencode

from aiohttp import web
from markupsafe import Markup

from node.store import actors, proposals
from node.web import pages
from node.commons.search import matches
from node.web.cache import Rendered
from node.web.negotiation import ACTIVITY_JSON, OFFERED, TURTLE, Representation, choose
from node.store.proposals import Filters
from node.web.responses import CORS, error_json, rendered_json, to_response
from node.web.state import NodeState, state_of
from vocab import collections
from vocab.as2 import moment_of
from vocab.cpv import CpvList
from vocab.profile import summary_html
from vocab.proposal import Proposal, ProposalError, iso
from vocab.proposal_builder import build
from vocab.proposal_document import (Publication, day_words, hashtags, quantity_words, schema_org, when_words,
                                     where_words)
from vocab.proposal_ingest import read

PAGE_SIZE = 50
MAX_PAGE = 100_000  # beyond this the offset would not fit SQLite's integers long before anything is listed
QUERY_MAX_LENGTH = 200
TAG_PATTERN = re.compile(r"#?\w{1,50}")
DIVISION_PATTERN = re.compile(r"\d{2}")
KIND_WORDS = {"need": "Need", "offer": "Offer"}
POSSIBLE_MATCHES = 5  # the best ones a proposal's page shows
# The listing is not offered as Turtle: converting fifty documents through JSON-LD takes seconds.
LISTING_OFFERED = tuple(offer for offer in OFFERED if offer[3] is not TURTLE)
# A stored proposal's end date was checked when it was published; rebuilding it must not check it again.
LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/proposals", listing)
    app.router.add_get("/tags/{tag}", tag_listing)


# ---------------------------------------------------------------- one need or offer


async def stored_proposal(node: NodeState, document: dict, cpv: CpvList) -> Proposal:
    """The proposal a stored document states, from the index's fields; ProposalError when that fails."""
    row = await proposals.get(node.db, document.get("id", ""))
    fields = json.loads(row["fields"]) if row is not None and row["fields"] else None
    return proposal_of(document, row["kind"] if row is not None else "", fields, cpv, ours=row is not None
                       and row["username"] is not None)


def proposal_of(document: dict, kind: str, fields: dict | None, cpv: CpvList, *, ours: bool) -> Proposal:
    """A stored proposal, built from its index fields; read back from the document only for a peer's stored
    before the index kept them. ProposalError when that fails."""
    if fields is not None:
        return build(kind, fields, cpv, now=LONG_AGO, foreign=not ours)
    return read(document, cpv, now=LONG_AGO)[0]


def _web_url(value) -> str | None:
    """A link target only when it is an http(s) URL: a peer's document could carry javascript: or worse."""
    return value if isinstance(value, str) and re.match(r"^https?://[^\s\"'<>]+$", value) else None


def publication_of(document: dict, actor_name: str) -> Publication:
    """Who published a stored document, where and when (what schema_org needs besides the proposal)."""
    followers = next((iri for iri in document.get("cc", []) if isinstance(iri, str)), "")
    return Publication(
        iri=document["id"], actor_iri=document.get("attributedTo", ""), actor_name=actor_name,
        followers_iri=followers, page_url=_web_url(document.get("url")) or document["id"],
        published=moment_of(document.get("published")) or LONG_AGO, updated=moment_of(document.get("updated")))


def status_words(proposal: Proposal, now: datetime) -> str:
    """Open until (a day), Fulfilled, or Expired (a day): also when the end date passed a moment ago."""
    ends = f" {day_words(proposal.ends)}" if proposal.ends else ""
    if proposal.status == "fulfilled":
        return "Fulfilled"
    if proposal.status == "expired" or not proposal.is_open(now):
        return f"Expired{ends}"
    return f"Open until{ends}" if ends else "Open"


def what_of(proposal: Proposal, cpv: CpvList) -> list[dict]:
    """Each classification: its label, its code as published, and the listing of its division."""
    items = []
    for code in proposal.classifications:
        entry = cpv.get(code)
        if entry is None:
            items.append({"label": code, "code": "", "url": _web_url(code)})
        else:
            items.append({"label": entry.label, "code": entry.published_form,
                          "url": "/proposals?" + urlencode({"division": entry.division})})
    return items


def tag_path(tag: str) -> str:
    return "/tags/" + quote(tag.lower())


def _dated(moment: datetime | None) -> dict | None:
    return None if moment is None else {"iso": iso(moment), "words": day_words(moment)}


async def proposal_page(node: NodeState, document: dict) -> Rendered:
    """One of our needs or offers, readable, with its schema.org Demand/Offer embedded for search engines."""
    cpv = CpvList.bundled()
    try:
        proposal = await stored_proposal(node, document, cpv)
    except ProposalError:
        return await pages.object_page(node, document)
    username = node.urls.username_from_actor_iri(document.get("attributedTo", "")) or ""
    author = await actors.get(node.db, username)
    author_name = author.profile.name if author else document.get("attributedTo", "")
    publication = publication_of(document, author_name)
    now = datetime.now(timezone.utc)
    is_open = proposal.is_open(now)
    return pages.render_page(
        node, "proposal.html", proposal=proposal, iri=document["id"], kind_word=KIND_WORDS[proposal.kind],
        possible_matches=await possible_matches(node, document["id"], proposal.kind, now) if is_open else [],
        murmurations_url=node.urls.murmurations_offer_want(document["id"]) if is_open else None,
        status_text=status_words(proposal, now), is_open=is_open, what=what_of(proposal, cpv),
        how_much=quantity_words(proposal), when=when_words(proposal),
        description=Markup(summary_html(proposal.description)),
        tags=[(tag, tag_path(tag)) for tag in hashtags(proposal, cpv)],
        author_name=author_name, author_page=node.urls.profile_page(username) if author else None,
        handle=f"@{username}@{node.config.domain}" if author else "",
        published=_dated(publication.published), updated=_dated(publication.updated),
        listing_url="/proposals?" + urlencode({"kind": proposal.kind}),
        json_ld=pages.embedded_json_ld(schema_org(proposal, publication, cpv)))


async def possible_matches(node: NodeState, iri: str, kind: str, now: datetime) -> list[dict]:
    """The best matches of one of our proposals with open proposals of the other kind, as its page shows them (links
    only to http(s) URLs: a peer's IRIs and pages come from its documents)."""
    ranked = await matches.matches_of(node.db, iri, kind, now=int(now.timestamp()), limit=POSSIBLE_MATCHES)
    return [{"words": match.words, "score": f"{match.score:.2f}", "explanation": match.explanation,
             "kind_word": KIND_WORDS.get(match.other.kind, ""), "title": match.other.title,
             "url": _web_url(match.other.iri), "author_name": match.other.author_name,
             "author_url": _web_url(match.other.author_url)} for match in ranked]


# ---------------------------------------------------------------- the listing


class BadFilter(ValueError):
    """A listing's query parameter is not usable; `parameter` names it."""

    def __init__(self, parameter: str, reason: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {reason}")


@dataclass(frozen=True)
class ListingQuery:
    """A listing's validated filters and page; hashable, so it keys the render cache."""

    filters: Filters
    page: int | None = None  # None: no `page` parameter (the first page; for AS2, the collection itself)
    tag_in_path: bool = False  # /tags/{tag} rather than /proposals?tag=

    @property
    def number(self) -> int:
        return self.page or 1

    def path(self) -> str:
        return tag_path(self.filters.tag) if self.tag_in_path else "/proposals"

    def url(self, page: int | None = None, *, numbered: bool = False, **changes) -> str:
        """This listing's path and query, with its filters changed (None drops one) and on another page;
        page 1 is left out of the query unless `numbered`."""
        filters = replace(self.filters, **changes)
        parameters = {"kind": filters.kind, "division": filters.division, "q": filters.text,
                      "tag": None if self.tag_in_path else filters.tag}
        if page is not None and (page > 1 or numbered):
            parameters["page"] = page
        query = urlencode({key: value for key, value in parameters.items() if value})
        return self.path() + (f"?{query}" if query else "")


def listing_query(query: Mapping[str, str], path_tag: str | None, cpv: CpvList) -> ListingQuery:
    """The listing a request asks for; BadFilter names the first unusable parameter. Empty values mean
    "any" (what a form's blank choice sends)."""
    kind = query.get("kind", "").strip() or None
    if kind is not None and kind not in KIND_WORDS:
        raise BadFilter("kind", f"{kind!r} is neither need nor offer")
    division = query.get("division", "").strip() or None
    if division is not None:
        if not DIVISION_PATTERN.fullmatch(division):
            raise BadFilter("division", f"{division!r} is not a two-digit CPV division (e.g. 55)")
        if cpv.get(division + "000000") is None:
            raise BadFilter("division", f"{division} is not a CPV division")
    text = " ".join(query.get("q", "").split()) or None
    if text is not None and len(text) > QUERY_MAX_LENGTH:
        raise BadFilter("q", f"longer than {QUERY_MAX_LENGTH} characters")
    tag = path_tag if path_tag is not None else (query.get("tag", "").strip() or None)
    if tag is not None:
        if not TAG_PATTERN.fullmatch(tag):
            raise BadFilter("tag", f"{tag[:60]!r} is not a hashtag (letters, digits and _, at most 50)")
        tag = tag.lstrip("#").lower()
    raw_page = query.get("page", "").strip() or None
    if raw_page is not None and (not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE):
        raise BadFilter("page", f"{raw_page[:20]!r} is not a page number from 1 to {MAX_PAGE}")
    return ListingQuery(Filters(kind=kind, division=division, text=text, tag=tag),
                        None if raw_page is None else int(raw_page), tag_in_path=path_tag is not None)


async def listing(request: web.Request) -> web.Response:
    return await _listing_response(request, None)


async def tag_listing(request: web.Request) -> web.Response:
    return await _listing_response(request, request.match_info["tag"])


async def _listing_response(request: web.Request, path_tag: str | None) -> web.Response:
    node = state_of(request)
    representation = choose(request.headers.get("Accept"), LISTING_OFFERED)
    if representation is None:
        raise web.HTTPNotAcceptable(
            text="Not acceptable: the listing is available as text/html, application/activity+json and "
                 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"', headers={"Vary": "Accept"})
    cpv = CpvList.bundled()
    try:
        query = listing_query(request.query, path_tag, cpv)
    except BadFilter as problem:
        return to_response(await _bad_filter(node, representation, problem))
    rendered = await node.cache.get_or_render(("proposals", query, representation),
                                              lambda: _render_listing(node, query, representation, cpv))
    return to_response(rendered)


async def _bad_filter(node: NodeState, representation: Representation, problem: BadFilter) -> Rendered:
    if representation.name == "html":
        return await pages.error_page(node, 400, "Bad filter", f"The listing cannot use {problem}.")
    return error_json(400, str(problem))


async def _render_listing(node: NodeState, query: ListingQuery, representation: Representation,
                          cpv: CpvList) -> Rendered:
    now = int(time.time())
    listed = await proposals.open_listed(node.db, query.filters, now, limit=PAGE_SIZE,
                                         offset=(query.number - 1) * PAGE_SIZE)
    if representation.name != "html":
        total = await proposals.count_open(node.db, query.filters, now)
        return await _listing_document(node, query, representation, total, [item.document for item in listed])
    counts = await facets(node, query.filters, now)
    names: dict[str, tuple[str, str | None]] = {}
    entries = [await _entry(node, item, cpv, names) for item in listed]
    first, page = (query.number - 1) * PAGE_SIZE, query.number
    last_page = max(1, -(-counts.total // PAGE_SIZE))
    return pages.render_page(
        node, "proposals.html", query=query, filters=query.filters, entries=entries, total=counts.total,
        shown_from=first + 1, shown_to=first + len(entries), kind_counts=counts.kinds,
        divisions=division_choices(counts, query.filters.division, cpv),
        division_label=cpv.get(query.filters.division + "000000").label if query.filters.division else "",
        previous_page=query.url(page - 1) if page > 1 else None,
        next_page=query.url(page + 1) if page < last_page else None, page=page, last_page=last_page,
        json_url=node.urls.base + query.url(query.page))


@dataclass(frozen=True)
class Facets:
    """How many open proposals match: in all, of each kind (under the chosen division), and in each
    division (under the chosen kind)."""

    total: int
    kinds: dict[str, int]
    divisions: dict[str, int]


async def facets(node: NodeState, filters: Filters, now: int) -> Facets:
    """The listing's counts in one grouped query over the index with node.proposals' own filter clauses
    (separate counts were three queries, and 45 for the divisions)."""
    rows = await proposals.open_counts(node.db, replace(filters, kind=None, division=None), now)
    total, kinds, divisions = 0, dict.fromkeys(KIND_WORDS, 0), {}
    for kind, division_list, count in rows:
        in_division = filters.division is None or filters.division in division_list.split()
        if in_division:
            kinds[kind] = kinds.get(kind, 0) + count
        if filters.kind is None or kind == filters.kind:
            total += count if in_division else 0
            for division in division_list.split():
                divisions[division] = divisions.get(division, 0) + count
    return Facets(total, kinds, divisions)


def division_choices(facets: Facets, chosen: str | None, cpv: CpvList) -> list[tuple[str, str, int]]:
    """(division, label, count) for the select: the divisions present, and the chosen one even when empty."""
    counts = dict(facets.divisions)
    if chosen:
        counts.setdefault(chosen, 0)
    entries = [(division, cpv.get(division + "000000"), count) for division, count in sorted(counts.items())]
    return [(division, entry.label, count) for division, entry, count in entries if entry is not None]


@dataclass(frozen=True)
class Entry:
    """One line of the listing."""

    kind_word: str
    title: str
    url: str | None
    author_name: str
    author_url: str | None
    what: str
    where: str
    ends: dict | None
    origin: str = ""  # 'on this node', or 'from HOST, via HUB'


async def _entry(node: NodeState, listed: proposals.Listed, cpv: CpvList, names: dict) -> Entry:
    document = listed.document
    actor_iri = document.get("attributedTo") if isinstance(document.get("attributedTo"), str) else ""
    if actor_iri not in names:
        names[actor_iri] = await pages.actor_link(node, actor_iri)
    author_name, author_url = names[actor_iri]
    url = _web_url(document.get("url")) or _web_url(document.get("id"))
    origin = await _origin(node, listed, actor_iri, names)
    try:
        proposal = proposal_of(document, listed.kind, listed.fields, cpv, ours=listed.ours)
    except ProposalError:  # stored before a stricter reading: list it by its name alone
        name = document.get("name") if isinstance(document.get("name"), str) else "(untitled)"
        return Entry("", name, url, author_name, author_url, "", "", None, origin)
    what = ", ".join(item["label"] for item in what_of(proposal, cpv))
    return Entry(KIND_WORDS[proposal.kind], proposal.title, url, author_name, author_url, what,
                 where_words(proposal), _dated(proposal.ends), origin)


async def _origin(node: NodeState, listed: proposals.Listed, actor_iri: str, names: dict) -> str:
    """Where a listed item comes from: 'on this node', or its node's host and the hubs it came through."""
    words = pages.origin_words(node, actor_iri)
    if listed.ours:
        return words
    hubs = []
    for row in await proposals.paths_of(node.db, listed.document.get("id", "")):
        via = row["via_iri"]
        if via and via != actor_iri:
            if via not in names:
                names[via] = await pages.actor_link(node, via)
            hubs.append(names[via][0])
    return words + (f", via {', '.join(dict.fromkeys(hubs))}" if hubs else "")


async def _listing_document(node: NodeState, query: ListingQuery, representation: Representation, total: int,
                            documents: list[dict]) -> Rendered:
    """The listing as AS2: without `page`, the OrderedCollection with its first documents inline (and `first`
    when there are more); with it, that OrderedCollectionPage."""
    collection_id = node.urls.base + query.url()
    if query.page is None:
        document = collections.ordered_collection(
            collection_id, total, items=documents,
            first=node.urls.base + query.url(1, numbered=True) if total > PAGE_SIZE else None)
    else:
        document = collections.ordered_collection_page(
            node.urls.base + query.url(query.page, numbered=True), collection_id, documents, total_items=total,
            next_page=node.urls.base + query.url(query.page + 1) if query.page * PAGE_SIZE < total else None,
            prev_page=node.urls.base + query.url(query.page - 1, numbered=True) if query.page > 1 else None)
    media_type = representation.media_type if representation.media_type.startswith("application/") \
        else ACTIVITY_JSON
    return rendered_json(document, media_type, 200, {**CORS, "Cache-Control": "public, max-age=60"})
