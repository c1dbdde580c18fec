"""Tests for vocab.loader: bundled contexts resolve offline, every other URL is refused without touching the network."""

import socket
import subprocess
import sys

import pytest
from pyld import jsonld

from vocab.context import AS2_CONTEXT_URL, SECURITY_CONTEXT_URL
from vocab.loader import jsonld_options, load_document

AS2_SPELLINGS = [
    "https://www.w3.org/ns/activitystreams",
    "https://www.w3.org/ns/activitystreams.jsonld",
    "http://www.w3.org/ns/activitystreams",
    "http://www.w3.org/ns/activitystreams.jsonld",
    "https://www.w3.org/ns/activitystreams/",
    "HTTPS://WWW.W3.ORG/ns/activitystreams",
]
SECURITY_SPELLINGS = [
    "https://w3id.org/security/v1",
    "http://w3id.org/security/v1",
    "https://w3id.org/security/v1.jsonld",
    "https://w3id.org/security/v1/",
]
REFUSED_URLS = [
    "http://127.0.0.1/evil",
    "http://169.254.169.254/",
    "http://localhost/www.w3.org/ns/activitystreams",
    "https://example.org/context.jsonld",
    "https://w3id.org/security/v2",
    "https://www.w3.org/ns/activitystreams/extra",
    "https://www.w3.org/ns/activitystreams?x=1",
    "https://evil.example/www.w3.org/ns/activitystreams",
    "ftp://www.w3.org/ns/activitystreams",
    "file:///etc/passwd",
    "https://w3id.org/coop-commons/ns",
]


@pytest.fixture
def network_attempts(monkeypatch):
    """Every attempt to resolve or connect, recorded and refused: the list must stay empty."""
    attempts = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append((name, args))
            raise OSError(f"network access attempted in a test: {name}{args!r}")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    return attempts


def test_network_guard_records_attempts(network_attempts):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    assert network_attempts


@pytest.mark.parametrize("url", AS2_SPELLINGS)
def test_activitystreams_spellings_resolve_to_bundled_context(url, network_attempts):
    remote = load_document(url)
    assert remote["documentUrl"] == url
    assert remote["contextUrl"] is None
    context = remote["document"]["@context"]
    assert context["as"] == "https://www.w3.org/ns/activitystreams#"
    assert context["sharedInbox"] == {"@id": "as:sharedInbox", "@type": "@id"}
    assert network_attempts == []


@pytest.mark.parametrize("url", SECURITY_SPELLINGS)
def test_security_spellings_resolve_to_bundled_context(url, network_attempts):
    context = load_document(url, {})["document"]["@context"]
    assert context["publicKeyPem"] == "sec:publicKeyPem"
    assert context["owner"] == {"@id": "sec:owner", "@type": "@id"}
    assert network_attempts == []


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_unknown_urls_are_refused_without_network(url, network_attempts):
    with pytest.raises(jsonld.JsonLdError) as raised:
        load_document(url)
    assert raised.value.code == "loading document failed"
    message = str(raised.value)
    assert url in message
    assert "never fetches" in message
    assert network_attempts == []


def test_loaded_documents_are_fresh_copies():
    first = load_document(AS2_CONTEXT_URL)["document"]
    first["@context"]["name"] = "https://evil.example/name"
    assert load_document(AS2_CONTEXT_URL)["document"]["@context"]["name"] == "as:name"


def test_expanding_a_document_with_remote_context_raises(network_attempts):
    document = {"@context": "https://evil.example/context.jsonld", "id": "https://a.example/1", "name": "x"}
    with pytest.raises(jsonld.JsonLdError) as raised:
        jsonld.expand(document, jsonld_options())
    assert "evil.example" in repr(raised.value.details) + str(raised.value)
    assert network_attempts == []


def test_expanding_with_bundled_contexts_needs_no_network(network_attempts):
    document = {"@context": [AS2_CONTEXT_URL, SECURITY_CONTEXT_URL], "id": "https://a.example/1", "name": "x"}
    expanded = jsonld.expand(document, jsonld_options())
    assert expanded[0]["https://www.w3.org/ns/activitystreams#name"] == [{"@value": "x"}]
    assert network_attempts == []


def test_jsonld_options_passes_our_loader_and_extras():
    options = jsonld_options(base="https://node.example/")
    assert options == {"documentLoader": load_document, "base": "https://node.example/"}


def test_pyld_global_loader_is_never_replaced():
    jsonld.expand({"@context": AS2_CONTEXT_URL, "name": "x"}, jsonld_options())
    assert jsonld.get_document_loader() is not load_document


def test_importing_the_loader_does_not_import_pyld():
    code = "import sys, vocab.loader; sys.exit('pyld' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
