"""Our own documents as AS2 JSON: local actors (the instance actor included) and the notes they post."""

import html
from dataclasses import replace
from datetime import datetime, timezone

from node.store.actors import INSTANCE_USERNAME, LocalActor
from node.config import NodeConfig
from node.urls import Urls
from vocab.context import AS2_PUBLIC, document_context
from vocab.profile import actor_document, summary_html

NOTE_MAX_LENGTH = 5000


def timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def actor_as2(actor: LocalActor, urls: Urls, config: NodeConfig, *, public_key_pem: str, rich: bool = False) -> dict:
    """The actor document peers fetch (and receive in Update), with its key (actors.public_key_pem); `rich` adds
    the linked-data types."""
    if actor.username == INSTANCE_USERNAME:
        profile = replace(actor.profile, username=config.domain, name=config.node_name or actor.profile.name,
                          summary=config.node_description or f"The coopnode server at {config.domain}.")
        actor_urls = urls.instance_actor_urls()
    else:
        profile, actor_urls = actor.profile, urls.actor_urls(actor.username)
    published = datetime.fromtimestamp(actor.created_at, timezone.utc)
    return actor_document(profile, actor_urls, public_key_pem, published, rich=rich)


def note_as2(*, iri: str, username: str, text: str, urls: Urls, published: int, updated: int | None = None) -> dict:
    """A public note: plain text as escaped HTML paragraphs, addressed to Public and the author's followers."""
    actor_id = urls.actor(username)
    document = {
        "@context": document_context(),
        "id": iri,
        "type": "Note",
        "attributedTo": actor_id,
        "content": summary_html(text) or f"<p>{html.escape(text)}</p>",
        "url": iri,
        "published": timestamp(published),
        "to": [AS2_PUBLIC],
        "cc": [f"{actor_id}/followers"],
    }
    if updated is not None:  # set on every edit, even within the second: receivers keep the newest version
        document["updated"] = timestamp(updated)
    return document
