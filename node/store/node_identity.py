"""What the database records of the node it belongs to: the domain its ids were minted with (owns node_identity), so
that a domain changed in node.toml is refused instead of splitting the node between two domains."""

from node.store.database import Database

DOMAIN = "domain"


class DomainChanged(Exception):
    """node.toml names another domain than the one the database was made with; the message says what to do."""


async def recorded_domain(db: Database) -> str | None:
    return await db.scalar("SELECT value FROM node_identity WHERE name = ?", (DOMAIN,))


async def check_domain(db: Database, domain: str) -> None:
    """Refuse a domain other than the database's. A database that records none (new, or made before this check)
    adopts the configured one, once."""
    recorded = await recorded_domain(db)
    if recorded is None:
        if not db.read_only:
            await db.write("INSERT OR IGNORE INTO node_identity (name, value) VALUES (?, ?)", (DOMAIN, domain))
        return
    if recorded != domain:
        raise DomainChanged(
            f"node.toml says the domain is {domain!r}, but this node's database was made for {recorded!r}: every "
            f"actor, post, need and offer, and every peer's copy of them, is keyed on {recorded!r}, so the node "
            f"cannot move. Put domain = \"{recorded}\" back in node.toml; a node under another domain is a new "
            "node ('coopnode init' in another data directory)")
