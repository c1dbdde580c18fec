"""ActivityStreams OrderedCollections and their pages, in the shape Mastodon counts and pages through."""

from vocab.context import document_context


def ordered_collection(collection_id: str, total_items: int, *, first: str | None = None,
                       items: list | None = None) -> dict:
    """A collection with a numeric totalItems and either a `first` page or its items inline."""
    document = {
        "@context": document_context(),
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total_items,
    }
    if first is not None:
        document["first"] = first
    if items is not None:
        document["orderedItems"] = items
    return document


def ordered_collection_page(page_id: str, part_of: str, items: list, *, total_items: int,
                            next_page: str | None = None, prev_page: str | None = None) -> dict:
    document = {
        "@context": document_context(),
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "totalItems": total_items,
        "orderedItems": items,
    }
    if next_page:
        document["next"] = next_page
    if prev_page:
        document["prev"] = prev_page
    return document
