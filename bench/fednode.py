"""The federation benchmarks' node: one data directory with a single hub (no import), its followers on many
loopback hosts, and read-only peeks into its database while it serves."""

import asyncio
import ipaddress
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from bench.dataset import HUB, _check, coopnode
from bench.processes import LOOPBACK, coopnode_command, free_port

FOLLOWER_NETWORK = ipaddress.ip_network("127.77.0.0/16")  # any of 127.0.0.0/8 is loopback on Linux


@dataclass(frozen=True)
class FedNode:
    data_dir: Path
    port: int
    username: str = HUB

    @property
    def domain(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "coopnode.sqlite3"

    def serve_command(self) -> list[str]:
        return coopnode_command() + ["--data", str(self.data_dir), "serve", "--port", str(self.port)]

    def public_pem(self) -> str:
        return read_one(self.database, "SELECT public_pem FROM keys WHERE username = ? AND retired_at IS NULL",
                        (self.username,))


def init(parent: Path) -> FedNode:
    data_dir, port = parent / "fednode", free_port()
    created = coopnode(data_dir, "init", "--domain", f"{LOOPBACK}:{port}", "--username", HUB,
                       "--name", "Preston Co-operative Commons", "--type", "group", "--dev", timeout=60)
    _check(created, "init")
    return FedNode(data_dir, port)


def follower_addresses(count: int) -> list[str]:
    """Distinct loopback addresses 127.77.0.1, 127.77.0.2, … (skipping .0 and .255 of each /24)."""
    addresses = (str(address) for address in FOLLOWER_NETWORK.hosts() if address.packed[3] not in (0, 255))
    return [next(addresses) for _ in range(count)]


def seed_followers(node: FedNode, addresses: list[str], port: int) -> None:
    """One accepted follower per address, each with its own shared inbox (written while the node is stopped)."""
    asyncio.run(_seed_followers(node, addresses, port))


async def _seed_followers(node: FedNode, addresses: list[str], port: int) -> None:
    from node.store.database import Database

    db = await Database.open(node.database)
    now = int(time.time())
    try:
        async with db.transaction() as connection:
            for address in addresses:
                origin = f"http://{address}:{port}"
                iri = f"{origin}/users/member"
                document = {"id": iri, "type": "Person", "preferredUsername": "member", "inbox": f"{iri}/inbox",
                            "endpoints": {"sharedInbox": f"{origin}/inbox"}}
                await connection.execute(
                    "INSERT OR REPLACE INTO remote_actors (iri, host, inbox, shared_inbox, key_id, public_key_pem, "
                    "json, fetched_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                    (iri, address, f"{iri}/inbox", f"{origin}/inbox", f"{iri}#main-key", json.dumps(document), now))
                await connection.execute(
                    "INSERT OR REPLACE INTO followers (username, actor_iri, state, follow_id, created_at) "
                    "VALUES (?, ?, 'accepted', ?, ?)", (node.username, iri, f"{origin}/follows/1", now))
    finally:
        await db.close()


def read_all(database: Path, sql: str, parameters=()) -> list[tuple]:
    """A read on a fresh read-only connection (WAL: does not disturb the serving node)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def read_one(database: Path, sql: str, parameters=()):
    rows = read_all(database, sql, parameters)
    return rows[0][0] if rows else None
