"""The pyld document loader: serves the bundled JSON-LD contexts and refuses every other URL, never fetching."""

from urllib.parse import urlsplit

from vocab.context import AS2_CONTEXT_URL, SECURITY_CONTEXT_URL, bundled_context_document

BUNDLED_CONTEXT_FILES = {
    AS2_CONTEXT_URL: "activitystreams.jsonld",
    SECURITY_CONTEXT_URL: "security-v1.jsonld",
}


def canonical_context_url(url: str) -> str | None:
    """The bundled context URL that `url` spells (http or https, optional `.jsonld` or trailing `/`), else None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or parts.query or parts.fragment:
        return None
    path = parts.path.removesuffix("/").removesuffix(".jsonld")
    candidate = f"https://{parts.netloc.lower()}{path}"
    return candidate if candidate in BUNDLED_CONTEXT_FILES else None


def load_document(url: str, options: dict | None = None) -> dict:
    """pyld documentLoader: a RemoteDocument for a bundled context; JsonLdError for any other URL."""
    canonical_url = canonical_context_url(url)
    if canonical_url is None:
        from pyld.jsonld import JsonLdError  # heavy import, paid only when JSON-LD is processed

        raise JsonLdError(
            f"Refusing to load {url!r}: coopnode never fetches remote JSON-LD contexts; "
            "only the bundled ActivityStreams and security v1 contexts are available.",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": bundled_context_document(BUNDLED_CONTEXT_FILES[canonical_url]),
    }


def jsonld_options(**extra) -> dict:
    """Options for every pyld call: our loader, passed explicitly (pyld's global loader is never set)."""
    return {"documentLoader": load_document, **extra}
