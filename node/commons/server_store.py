"""The commons on an external SPARQL 1.1 server (for an aggregator that outgrows one machine): graphs written with
the Graph Store Protocol (one document) or SPARQL 1.1 Update (a batch, one request), queries through the SPARQL
Protocol; answers are read back, capped and written in the format asked for, as the embedded store does."""

import asyncio
from typing import Mapping
from urllib.parse import quote

import aiohttp
import pyoxigraph as ox

from node.commons.query_pool import QueryRefused
from node.commons.rdf_store import APPLIED_CHANGE, STATE_GRAPH, STATE_SUBJECT, StoreUnavailable, state_ntriples
from node.commons.sparql_answers import Answer, answer
from node.config import CommonsConfig

ASK_FOR = "application/sparql-results+json, application/n-triples;q=0.9"
MAX_ANSWER_BYTES = 64 * 1024 * 1024
WRITE_TIMEOUT = aiohttp.ClientTimeout(total=120)
GSP_BATCH = 1  # batches of more graphs go as one SPARQL Update request


class ServerStore:
    """Talks to the server at the [commons] URLs with a session of its own (the operator chose the address, so
    the federation client's guard against private addresses does not apply)."""

    def __init__(self, config: CommonsConfig):
        self._config = config
        self._session = aiohttp.ClientSession(headers={"User-Agent": "coopnode-commons"})

    async def replace_graphs(self, graphs: Mapping[str, str], *, applied_change: int) -> None:
        if len(graphs) <= GSP_BATCH:
            for iri, ntriples in graphs.items():
                await self._put_graph(iri, ntriples)
        elif graphs:
            await self._update(graphs)
        await self._put_graph(STATE_GRAPH, state_ntriples(applied_change))

    async def _put_graph(self, iri: str, ntriples: str) -> None:
        url = f"{self._config.graph_store_url}?graph={quote(iri, safe='')}"
        if ntriples:
            request = self._session.put(url, data=ntriples.encode(), timeout=WRITE_TIMEOUT,
                                        headers={"Content-Type": "application/n-triples"})
        else:
            request = self._session.delete(url, timeout=WRITE_TIMEOUT)
        await self._expect(request, (200, 201, 204) if ntriples else (200, 204, 404), "write a graph to")

    async def _update(self, graphs: Mapping[str, str]) -> None:
        parts = []
        for iri, ntriples in graphs.items():
            parts.append(f"DROP SILENT GRAPH <{iri}>")
            if ntriples:
                parts.append(f"INSERT DATA {{ GRAPH <{iri}> {{\n{ntriples}}} }}")
        request = self._session.post(self._config.update_url, data=" ;\n".join(parts).encode(), timeout=WRITE_TIMEOUT,
                                     headers={"Content-Type": "application/sparql-update"})
        await self._expect(request, (200, 204), "update")

    async def _expect(self, request, statuses: tuple[int, ...], what: str) -> bytes:
        try:
            async with request as response:
                body = await response.content.read(MAX_ANSWER_BYTES + 1)
                if response.status not in statuses:
                    raise StoreUnavailable(f"the SPARQL server would not {what} it: HTTP {response.status} "
                                           f"{body[:300].decode('utf-8', 'replace')}")
                return body
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise StoreUnavailable(f"cannot reach the SPARQL server ({type(error).__name__}: {error}); check "
                                   "[commons] in node.toml") from None

    async def applied_change(self) -> int | None:
        result = await self._select(f"SELECT ?n WHERE {{ GRAPH <{STATE_GRAPH}> {{ <{STATE_SUBJECT}> "
                                    f"<{APPLIED_CHANGE}> ?n }} }}")
        return next((int(row["n"].value) for row in result), None)

    async def _select(self, query: str) -> ox.QuerySolutions:
        request = self._session.post(self._config.query_url, data=query.encode(), timeout=WRITE_TIMEOUT, headers={
            "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"})
        body = await self._expect(request, (200,), "answer")
        return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)

    async def query(self, query: str, accepted: list[str], *, max_rows: int, timeout: float) -> Answer:
        try:
            async with self._session.post(
                    self._config.query_url, data=query.encode(), timeout=aiohttp.ClientTimeout(total=timeout),
                    headers={"Content-Type": "application/sparql-query", "Accept": ASK_FOR}) as response:
                body = await response.content.read(MAX_ANSWER_BYTES + 1)
                kind = response.content_type
                if response.status == 400:
                    raise QueryRefused(400, body[:2000].decode("utf-8", "replace").strip()
                                       or "the SPARQL server refused the query")
                if response.status != 200:
                    raise QueryRefused(503, f"the SPARQL server answered HTTP {response.status}")
        except asyncio.TimeoutError:
            raise QueryRefused(503, f"the query ran longer than {timeout:g} s and was stopped: narrow it") from None
        except aiohttp.ClientError as error:
            raise QueryRefused(503, f"cannot reach the SPARQL server: {error}") from None
        if len(body) > MAX_ANSWER_BYTES:
            raise QueryRefused(503, "the SPARQL server's answer is too large: add a LIMIT")
        found = await asyncio.to_thread(_answer_of, body, kind, accepted, max_rows)
        if found is None:
            raise QueryRefused(406, "no format this kind of result has was accepted")
        return found

    async def counts(self) -> tuple[int, int]:
        graphs = await self._select(f"SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                                    f"FILTER(?g != <{STATE_GRAPH}>) }}")
        triples = await self._select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                                     f"FILTER(?g != <{STATE_GRAPH}>) }}")
        return int(next(iter(graphs))["n"].value), int(next(iter(triples))["n"].value)

    async def clear(self) -> None:
        request = self._session.post(self._config.update_url, data=b"CLEAR ALL", timeout=WRITE_TIMEOUT,
                                     headers={"Content-Type": "application/sparql-update"})
        await self._expect(request, (200, 204), "clear")

    async def close(self) -> None:
        await self._session.close()


def _answer_of(body: bytes, content_type: str, accepted: list[str], max_rows: int) -> Answer | None:
    if content_type == "application/sparql-results+json":
        return answer(ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON), accepted, max_rows)
    triples = (quad.triple for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES))
    return answer(triples, accepted, max_rows)
