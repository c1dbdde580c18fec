"""SPARQL answers: which result formats a request may ask for, and writing capped solutions or triples in them
(SPARQL 1.1 Query Results JSON, XML, CSV and TSV; Turtle, JSON-LD and N-Triples for CONSTRUCT and DESCRIBE)."""

import csv
import io
import json
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

RESULTS_JSON = "application/sparql-results+json"
RESULTS_XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TURTLE = "text/turtle"
JSON_LD = "application/ld+json"
N_TRIPLES = "application/n-triples"
SOLUTION_FORMATS = (RESULTS_JSON, RESULTS_XML, CSV, TSV)
GRAPH_FORMATS = (TURTLE, JSON_LD, N_TRIPLES)
GRAPH_SERIALISERS = {TURTLE: ox.RdfFormat.TURTLE, JSON_LD: ox.RdfFormat.JSON_LD, N_TRIPLES: ox.RdfFormat.N_TRIPLES}
ALIASES = {"application/json": RESULTS_JSON, "application/xml": RESULTS_XML, "text/xml": RESULTS_XML,
           "text/plain": N_TRIPLES, "application/x-turtle": TURTLE, "json": RESULTS_JSON, "xml": RESULTS_XML,
           "csv": CSV, "tsv": TSV, "turtle": TURTLE, "ttl": TURTLE, "json-ld": JSON_LD, "jsonld": JSON_LD}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True)
class Answer:
    """A serialised answer: its media type, bytes, and whether the row cap cut it."""

    content_type: str
    body: bytes
    truncated: bool = False
    rows: int = 0


def preferences(accept: str | None, format_parameter: str | None) -> list[str]:
    """The media types a request accepts, best first (a `format` parameter wins over Accept)."""
    if format_parameter:
        wanted = format_parameter.strip().lower()
        return [ALIASES.get(wanted, wanted)]
    ranked = []
    for position, part in enumerate((accept or "").split(",")):
        media_type, *parameters = [piece.strip() for piece in part.split(";")]
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type and quality > 0:
            ranked.append((-quality, position, ALIASES.get(media_type.lower(), media_type.lower())))
    return [media_type for _, _, media_type in sorted(ranked)]


def choose(accepted: list[str], offered: tuple[str, ...]) -> str | None:
    """The first accepted type we offer; the first offered for */* or nothing asked; None when none fits."""
    if not accepted:
        return offered[0]
    for media_type in accepted:
        if media_type in offered:
            return media_type
        if media_type in ("*/*", "application/*", "text/*"):
            return next((offer for offer in offered if media_type == "*/*" or offer.startswith(media_type[:-1])),
                        None)
    return None


def answer(result, accepted: list[str], max_rows: int) -> Answer | None:
    """`result` (a pyoxigraph query result: solutions, a boolean or triples) in the first acceptable format, at
    most `max_rows` solutions or triples; None when no format the request accepts fits this kind of result."""
    if isinstance(result, ox.QueryBoolean):
        media_type = choose(accepted, (RESULTS_JSON, RESULTS_XML))
        return None if media_type is None else Answer(media_type, _boolean(bool(result), media_type))
    if isinstance(result, ox.QuerySolutions):
        media_type = choose(accepted, SOLUTION_FORMATS)
        if media_type is None:
            return None
        variables = [variable.value for variable in result.variables]
        rows, truncated = _capped(result, max_rows)
        return Answer(media_type, SOLUTION_WRITERS[media_type](variables, rows), truncated, len(rows))
    media_type = choose(accepted, GRAPH_FORMATS)
    if media_type is None:
        return None
    triples, truncated = _capped(result, max_rows)
    body = ox.serialize(triples, format=GRAPH_SERIALISERS[media_type]) or b""
    return Answer(media_type, body, truncated, len(triples))


def _capped(items, limit: int) -> tuple[list, bool]:
    taken = []
    for item in items:
        if len(taken) == limit:
            return taken, True
        taken.append(item)
    return taken, False


def _boolean(value: bool, media_type: str) -> bytes:
    if media_type == RESULTS_JSON:
        return json.dumps({"head": {}, "boolean": value}).encode()
    return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
            f"<boolean>{'true' if value else 'false'}</boolean></sparql>\n").encode()


def _json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        entry = {"type": "literal", "value": term.value}
        if term.language:
            entry["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            entry["datatype"] = term.datatype.value
        return entry
    return {"type": "triple", "value": str(term)}  # RDF-star


def _json(variables: list[str], rows: list) -> bytes:
    bindings = [{name: _json_term(row[name]) for name in variables if row[name] is not None} for row in rows]
    return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                      ensure_ascii=False).encode()


def _xml_term(term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    return f"<literal>{escape(str(term))}</literal>"


def _xml(variables: list[str], rows: list) -> bytes:
    parts = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    parts += [f"<variable name={quoteattr(name)}/>" for name in variables]
    parts.append("</head><results>")
    for row in rows:
        parts.append("<result>")
        parts += [f"<binding name={quoteattr(name)}>{_xml_term(row[name])}</binding>"
                  for name in variables if row[name] is not None]
        parts.append("</result>")
    parts.append("</results></sparql>\n")
    return "".join(parts).encode()


def _csv(variables: list[str], rows: list) -> bytes:
    """SPARQL 1.1 CSV: plain values (IRIs, literals' lexical forms, _:labels), CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow(["" if row[name] is None else _plain(row[name]) for name in variables])
    return out.getvalue().encode()


def _plain(term) -> str:
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else term.value if hasattr(term, "value") else str(term)


def _tsv(variables: list[str], rows: list) -> bytes:
    """SPARQL 1.1 TSV: terms in their Turtle/N-Triples form, tab separated."""
    lines = ["\t".join(f"?{name}" for name in variables)]
    for row in rows:
        lines.append("\t".join("" if row[name] is None else str(row[name]) for name in variables))
    return ("\n".join(lines) + "\n").encode()


SOLUTION_WRITERS = {RESULTS_JSON: _json, RESULTS_XML: _xml, CSV: _csv, TSV: _tsv}
