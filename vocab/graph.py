"""The bridge from JSON-LD documents to rdflib graphs and Turtle, and graph comparison that ignores lexical noise."""

from __future__ import annotations

import datetime
import types
from decimal import Decimal
from typing import TYPE_CHECKING

from vocab.context import AS2_NAMESPACE, CCN_NAMESPACE
from vocab.loader import jsonld_options

if TYPE_CHECKING:
    import rdflib

# rdflib and pyld are imported inside the functions below: a process that never serves RDF
# should not pay their import time and memory.

XSD = "http://www.w3.org/2001/XMLSchema#"

TURTLE_PREFIXES = types.MappingProxyType({
    "as": AS2_NAMESPACE,
    "vf": "https://w3id.org/valueflows/ont/vf#",
    "schema": "http://schema.org/",
    "mastodon-schema": "http://schema.org#",  # Mastodon's IRIs for profile fields (PropertyValue, value)
    "essglobal": "https://lod.coop/essglobal/2.1/vocab/",
    "ccn": CCN_NAMESPACE,
    "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    "sec": "https://w3id.org/security#",
    "xsd": XSD,
    "toot": "http://joinmastodon.org/ns#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "ldp": "http://www.w3.org/ns/ldp#",
})

INTEGER_TYPES = frozenset(XSD + name for name in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
    "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte",
))
FLOATING_TYPES = frozenset((XSD + "float", XSD + "double"))


def expand(document: dict) -> list:
    """The JSON-LD expanded form of `document`, resolving contexts only from the bundled files."""
    from pyld import jsonld

    return jsonld.expand(document, jsonld_options())


def to_graph(document: dict) -> rdflib.Graph:
    """The RDF graph (default graph) of a JSON-LD document."""
    # pyld converts to RDF and rdflib only parses the resulting N-Triples. pyld is the project's one
    # JSON-LD processor (our loader, JSON-LD 1.1 scoped contexts), and N-Triples leave rdflib nothing
    # to interpret or fetch. rdflib's own JSON-LD parser on the expanded form gave the same graph for
    # our documents (tested), but it is a second JSON-LD implementation to keep in step.
    from pyld import jsonld

    dataset = jsonld.to_rdf(document, jsonld_options())
    ntriples = jsonld.serialize_nquads({"@default": dataset.get("@default", [])})
    graph = new_graph()
    graph.parse(data=ntriples, format="nt")
    return graph


def to_turtle(document: dict) -> str:
    """Turtle text of a JSON-LD document, with readable prefixes."""
    return to_graph(document).serialize(format="turtle")


def turtle_to_graph(text: str) -> rdflib.Graph:
    """Parse Turtle text into a graph."""
    graph = new_graph()
    graph.parse(data=text, format="turtle")
    return graph


def new_graph() -> rdflib.Graph:
    """An empty graph with our prefixes bound and none of rdflib's defaults (which bind https schema.org)."""
    import rdflib

    graph = rdflib.Graph(bind_namespaces="core")
    for prefix, namespace in TURTLE_PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)
    return graph


def canonicalised(graph: rdflib.Graph) -> rdflib.Graph:
    """A copy of `graph` whose literals are in one canonical lexical form per value (40 = 40.0, Z = +00:00)."""
    copy = new_graph()
    for subject, predicate, obj in graph:
        copy.add((subject, predicate, canonical_term(obj)))
    return copy


def same_graph(a: rdflib.Graph, b: rdflib.Graph) -> bool:
    """Whether two graphs say the same thing: isomorphic (blank nodes matched) after canonicalisation."""
    from rdflib.compare import isomorphic

    return isomorphic(canonicalised(a), canonicalised(b))


def canonical_term(term):
    """`term` itself unless it is a literal, then the literal in canonical lexical form."""
    import rdflib

    if not isinstance(term, rdflib.Literal):
        return term
    if term.language:
        return rdflib.Literal(str(term), lang=term.language.lower())
    if term.datatype is None or term.ill_typed or term.value is None:
        return term
    lexical = canonical_lexical(str(term.datatype), term.value)
    if lexical is None:
        return term
    # normalize=False keeps our lexical form: rdflib would otherwise re-derive its own from the value.
    return rdflib.Literal(lexical, datatype=term.datatype, normalize=False)


def canonical_lexical(datatype: str, value) -> str | None:
    """The canonical lexical form of a parsed literal value of an XSD datatype, or None to leave it as is."""
    if datatype == XSD + "boolean":
        return "true" if value else "false"
    if datatype in INTEGER_TYPES:
        return str(int(value))
    if datatype == XSD + "decimal":
        return canonical_decimal(Decimal(value))
    if datatype in FLOATING_TYPES:
        return repr(float(value))
    if datatype == XSD + "dateTime" and isinstance(value, datetime.datetime):
        return canonical_datetime(value)
    if datatype == XSD + "date" and isinstance(value, datetime.date):
        return value.isoformat()
    return None


def canonical_decimal(value: Decimal) -> str:
    """XSD 1.0 canonical decimal: no exponent, no superfluous zeros, at least one digit after the point."""
    text = format(value.normalize(), "f")
    if "." not in text:
        text += ".0"
    return "0.0" if text in ("-0.0", "0.0") else text


def canonical_datetime(value: datetime.datetime) -> str:
    """A dateTime in UTC written with Z (timezone-less values keep their local form)."""
    if value.tzinfo is None:
        return value.isoformat()
    utc = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return utc.isoformat() + "Z"
