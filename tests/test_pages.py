"""Human pages: the home page lists who is hosted, profile pages read well, embed valid JSON-LD, escape everything."""

import json
import re

from nodes import preston_hub, preston_larder, running_node
from vocab.graph import to_graph


async def page(http, url: str) -> tuple[int, str]:
    async with http.get(url, headers={"Accept": "text/html"}) as response:
        return response.status, await response.text()


def embedded_json_ld(html: str) -> dict:
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL).group(1)
    return json.loads(block)


async def test_home_lists_hubs_and_organisations(preston_node, http):
    status, html = await page(http, preston_node.base_url + "/")
    assert status == 200
    assert "Preston Co-operative Commons" in html and "The Preston Larder Limited" in html
    assert f'href="{preston_node.base_url}/@the_preston_larder"' in html
    assert "Contains Co-operatives UK open data, licensed under ODC-By 1.0" in html


async def test_profile_page_reads_well(preston_node, http):
    status, html = await page(http, preston_node.base_url + "/@the_preston_larder")
    assert status == 200
    assert "<h1>The Preston Larder Limited" in html
    assert f"@the_preston_larder@{preston_node.domain}" in html
    assert "<p>A community food co-op.</p><p>We cook, teach and feed Preston.</p>" in html
    assert "PR1 1DD" in html and "E07000123" in html
    assert f'<link rel="alternate" type="application/activity+json" href="{preston_node.base_url}/actors/the_preston_larder">' in html
    assert 'href="http://www.larder.org.uk" rel="me' in html
    assert "Preston Co-operative Commons" in html  # member of the hub, linked by name


async def test_hub_page_lists_its_members(preston_node, http):
    _, html = await page(http, preston_node.base_url + "/@preston")
    assert "Members (1)" in html and "The Preston Larder Limited" in html


async def test_embedded_json_ld_is_the_linked_data_profile(preston_node, http):
    _, html = await page(http, preston_node.base_url + "/@the_preston_larder")
    document = embedded_json_ld(html)
    assert document["id"] == f"{preston_node.base_url}/actors/the_preston_larder"
    assert "Cooperative" in document["type"]
    assert len(to_graph(document)) > 30


async def test_hostile_profile_text_is_escaped(tmp_path, http):
    attack = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    hostile = preston_larder(name=f"Evil {attack}", summary=attack, sector=attack)
    async with running_node(tmp_path / "n", [hostile]) as node:
        _, html = await page(http, node.base_url + "/@the_preston_larder")
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert html.count("</script>") == 1  # only the JSON-LD block's own end tag
    assert embedded_json_ld(html)["name"] == f"Evil {attack}"  # the data survives, safely encoded


async def test_unknown_page_is_a_readable_404(preston_node, http):
    status, html = await page(http, preston_node.base_url + "/@nobody")
    assert status == 404 and "no actor named" in html


async def test_collections_redirect_browsers_to_the_profile(preston_node, http):
    async with http.get(preston_node.base_url + "/actors/preston/outbox", headers={"Accept": "text/html"},
                        allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"{preston_node.base_url}/@preston"


async def test_instance_actor_page_sends_browsers_home(preston_node, http):
    async with http.get(preston_node.base_url + "/actor", headers={"Accept": "text/html"},
                        allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == preston_node.base_url + "/"


async def test_hub_without_members_has_no_member_list(tmp_path, http):
    async with running_node(tmp_path / "n", [preston_hub()]) as node:
        _, html = await page(http, node.base_url + "/@preston")
    assert "Members (" not in html


async def test_whom_to_notify_is_on_no_page_document_or_query_answer(tmp_path, http):
    """`notify` and `notify_email` are the organisation's private settings: its page, its actor document (AS2 and
    Turtle) and the commons' SPARQL endpoint never show them."""
    secret = preston_larder(notify="@ann@private-social.example", notify_email="ann.private@inbox.example")
    async with running_node(tmp_path / "n", [secret]) as node:
        await node.runtime.commons.gatherer.catch_up()
        answers = []
        for path, accept in (("/@the_preston_larder", "text/html"),
                             ("/actors/the_preston_larder", "application/activity+json"),
                             ("/actors/the_preston_larder", "text/turtle")):
            async with http.get(node.base_url + path, headers={"Accept": accept}) as response:
                assert response.status == 200
                answers.append(await response.text())
        query = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"
        async with http.get(f"{node.base_url}/sparql", params={"query": query},
                            headers={"Accept": "application/n-triples"}) as response:
            assert response.status == 200
            answers.append(await response.text())
    assert "The Preston Larder Limited" in answers[-1]  # the commons holds the organisation …
    for answer in answers:  # … and no page or answer names whom it tells
        assert "private-social" not in answer and "ann.private" not in answer and "inbox.example" not in answer
