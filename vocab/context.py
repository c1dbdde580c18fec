"""The JSON-LD contexts every coopnode document uses, and the bundled vocabulary files behind them."""

import functools
import json
import marshal
from pathlib import Path

AS2_CONTEXT_URL = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT_URL = "https://w3id.org/security/v1"
CCN_NAMESPACE = "https://w3id.org/coop-commons/ns#"
AS2_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# The namespace the official AS2 context maps its "as" prefix to (https, unlike the older OWL file).
AS2_NAMESPACE = "https://www.w3.org/ns/activitystreams#"

COOP_CONTEXT_FILE = "coop-v1.jsonld"
VOCABULARY_FILE = "coop.ttl"


def bundled_text(*path: str) -> str:
    """Text of a file shipped inside the vocab package, e.g. bundled_text("contexts", "coop-v1.jsonld")."""
    # Located from this file rather than with importlib.resources.files("vocab"): on Python 3.11 that
    # raises NotADirectoryError whenever an editable install presents vocab as a namespace package.
    return Path(__file__).parent.joinpath(*path).read_text(encoding="utf-8")


@functools.cache
def _context_file_marshalled(filename: str) -> bytes:
    return marshal.dumps(json.loads(bundled_text("contexts", filename)))


def bundled_context_document(filename: str) -> dict:
    """A fresh copy of the parsed JSON of a file in vocab/contexts/. Made from a cached marshal of the parsed file:
    every document we publish embeds our context, and this is twice as fast as parsing the JSON again and six
    times as fast as copy.deepcopy."""
    return marshal.loads(_context_file_marshalled(filename))


def coop_context() -> dict:
    """Our inline context object (coop-v1), a fresh copy each call."""
    return bundled_context_document(COOP_CONTEXT_FILE)


def document_context() -> list:
    """The `@context` value of every document coopnode publishes: AS2, security v1, then ours."""
    return [AS2_CONTEXT_URL, SECURITY_CONTEXT_URL, coop_context()]


@functools.cache
def _shared_document_context() -> list:
    return document_context()  # compared with, never handed out


def stored_json(document: dict) -> str:
    """The JSON a node keeps of one of its own documents: without our usual @context (about half of every needs
    and offers document), which with_context puts back when it is read. Any other @context is kept."""
    if "@context" in document and document["@context"] == _shared_document_context():
        document = {key: value for key, value in document.items() if key != "@context"}
    return json.dumps(document, ensure_ascii=False)


def with_context(document: dict) -> dict:
    """A document as stored_json kept it, as published: our usual @context first, unless it carries its own."""
    return document if "@context" in document else {"@context": document_context(), **document}


def vocabulary_turtle() -> str:
    """The Turtle source of the ccn: vocabulary (coop.ttl)."""
    return bundled_text(VOCABULARY_FILE)
