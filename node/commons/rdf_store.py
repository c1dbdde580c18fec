"""The commons' RDF store, whichever it is: embedded pyoxigraph in the data directory or an external SPARQL 1.1
server, behind one interface (one named graph per source document, replaced whole)."""

from pathlib import Path
from typing import Mapping, Protocol

from node.commons.sparql_answers import Answer
from node.config import NodeConfig

COMMONS_DIRECTORY = "commons"
STATE_GRAPH = "urn:coopnode:commons:state"  # holds how far into the proposals feed the store has applied
APPLIED_CHANGE = "https://w3id.org/coop-commons/ns#appliedChange"
STATE_SUBJECT = "urn:coopnode:commons"


class StoreUnavailable(Exception):
    """The store cannot be opened or reached; the message says why and what to do."""


class CommonsStore(Protocol):
    async def replace_graphs(self, graphs: Mapping[str, str], *, applied_change: int) -> None:
        """Replace each named graph (IRI → N-Triples; '' removes it), then record that the feed is applied up to
        `applied_change`."""

    async def applied_change(self) -> int | None:
        """How far into the proposals feed the store has applied (None: an empty or new store)."""

    async def query(self, query: str, accepted: list[str], *, max_rows: int, timeout: float) -> Answer:
        """A read-only SPARQL query's answer; QueryRefused when it cannot be answered."""

    async def counts(self) -> tuple[int, int]:
        """(named graphs, triples) held."""

    async def clear(self) -> None: ...

    async def close(self) -> None: ...


def commons_directory(config: NodeConfig) -> Path:
    return config.data_dir / COMMONS_DIRECTORY


def state_ntriples(applied_change: int) -> str:
    return (f"<{STATE_SUBJECT}> <{APPLIED_CHANGE}> "
            f"\"{applied_change}\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n")
