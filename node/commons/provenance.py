"""Where each item of the commons came from: for a peer's proposal its author, its origin, each path it reached us
by (its author, or a hub whose Announce brought it) and when it was fetched through it; for an organisation its
origin and when it was read. As a dict (`provenance`, for pages and the API) and as PROV-O triples in the
proposal's own graph of the RDF store (`proposal_ntriples`, written by the gatherer):

    <proposal> prov:wasAttributedTo <author> ;
               prov:wasDerivedFrom <https://origin.example/> ;     the server it was fetched from
               prov:generatedAtTime "…"^^xsd:dateTime ;            when our copy was last fetched
               ccn:via <hub> .                                     each hub whose Announce brought it
"""

from datetime import datetime, timezone

from node.commons import index
from node.store import proposals
from node.store.database import Database
from vocab.as2 import origin_of
from vocab.commons_rdf import XSD, iri_term, literal
from vocab.context import CCN_NAMESPACE

PROV = "http://www.w3.org/ns/prov#"
VIA = CCN_NAMESPACE + "via"


async def provenance(db: Database, iri: str) -> dict | None:
    """Where the proposal or organisation `iri` of the commons came from; None when the node keeps no such item.

    A proposal: {"iri", "item": "proposal", "local", "author", "origin", "via": [hub IRIs], "paths": [{"via",
    "hub", "fetched_at"}, …] oldest first, "fetched_at": the latest}; ours have no paths and fetched_at None.
    An organisation: {"iri", "item": "organisation", "local", "origin", "fetched_at"}. Times are Unix seconds."""
    row = await proposals.get(db, iri)
    if row is not None:
        paths = [] if row["username"] is not None else await proposals.paths_of(db, iri)
        return proposal_provenance(iri, row["actor_iri"], [tuple(path) for path in paths],
                                   local=row["username"] is not None)
    organisation = await index.organisation(db, iri)
    if organisation is not None:
        local = bool(organisation["is_local"])
        return {"iri": iri, "item": "organisation", "local": local, "origin": organisation["origin"],
                "fetched_at": None if local else organisation["fetched_at"]}
    return None


def proposal_provenance(iri: str, author_iri: str, paths: list[tuple[str, int]], *, local: bool = False) -> dict:
    """The provenance of a proposal from its paths ((via IRI, fetched at), oldest first)."""
    return {
        "iri": iri, "item": "proposal", "local": local, "author": author_iri, "origin": origin_of(iri),
        "via": [via for via, _ in paths if via != author_iri],
        "paths": [{"via": via, "hub": via != author_iri, "fetched_at": fetched_at} for via, fetched_at in paths],
        "fetched_at": max((fetched_at for _, fetched_at in paths), default=None),
    }


def proposal_ntriples(iri: str, author_iri: str, paths: list[tuple[str, int]]) -> str:
    """The PROV-O triples of a peer's proposal (see the module's docstring); '' for one without paths."""
    subject = iri_term(iri)
    if subject is None or not paths:
        return ""
    found = proposal_provenance(iri, author_iri, paths)
    lines = []
    author = iri_term(author_iri)
    if author is not None:
        lines.append(f"{subject} <{PROV}wasAttributedTo> {author} .")
    origin = iri_term(found["origin"] + "/")
    if origin is not None:
        lines.append(f"{subject} <{PROV}wasDerivedFrom> {origin} .")
    fetched = datetime.fromtimestamp(found["fetched_at"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines.append(f"{subject} <{PROV}generatedAtTime> {literal(fetched, XSD + 'dateTime')} .")
    for hub in found["via"]:
        term = iri_term(hub)
        if term is not None:
            lines.append(f"{subject} <{VIA}> {term} .")
    return "\n".join(lines) + "\n"
