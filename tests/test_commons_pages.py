"""/commons over real HTTP, filled through the real path (proposals published, the gatherer run): organisations,
needs and offers with their best matches and explanations, the filters, paging, counts per place, the JSON form,
bad filters, hostile names, a peer's organisation and offer, the open counts the triggers keep, and the query
plans (indexes, not scans)."""

import json
import re

import pytest

from node.commons import directory, places
from node.commons.directory import Around, Filters
from node.commons.gatherer import FEED_READER
from node.store import proposals
from nodes import eventually, follow, node_database, preston_hub, preston_larder, running_node

MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")
VAN = dict(title="Van hire with driver", cpv="60000000", ends="2099-01-15")
HOSTILE = "<script>alert('owned')</script> & \"quotes\""


def profiles(base: str):
    hub = f"{base}/actors/preston"
    return [
        preston_hub(),
        preston_larder(member_of=[hub]),
        preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                       identifiers={}, sector="Public administration", legal_form="Local authority",
                       latitude=53.7590, longitude=-2.6990),
        preston_larder(username="halifax_bakers", name="Halifax Bakers", locality="Halifax", postcode="HX1 1AA",
                       local_authority="E08000033", latitude=53.7248, longitude=-1.8658, sector="Food",
                       legal_form="Company", identifiers={}),
        preston_larder(username="hostile", name=HOSTILE, locality="Preston", member_of=[hub], identifiers={},
                       latitude=53.7600, longitude=-2.7000),
    ]


@pytest.fixture
async def node(tmp_path):
    async with running_node(tmp_path / "preston", profiles) as running:
        yield running


async def filled(node, *items) -> list[str]:
    """Publish (username, kind, fields) through the proposal service; once the serving node's gatherer has read
    them into the commons (and ranked them), their IRIs."""
    iris = [await node.runtime.proposals.add(username, kind, fields) for username, kind, fields in items]
    await gathered(node)
    return iris


async def gathered(node) -> None:
    """Wait until the serving node's gatherer has handled every change of the proposals feed, and its matcher has
    ranked what that wrote."""
    async def caught_up():
        return (await proposals.position(node.db, FEED_READER) >= await proposals.last_change(node.db)
                and await node.db.scalar("SELECT COUNT(*) FROM commons_proposals WHERE ranked = 0") == 0)

    await eventually(caught_up, message="the commons gathered every change")


async def get(http, url: str, accept: str = "text/html"):
    async with http.get(url, headers={"Accept": accept}) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def names_listed(html: str) -> list[str]:
    section = html.split('<h2 id="organisations">', 1)[1].split("<h2", 1)[0]
    return re.findall(r'<li><a href="[^"]*">([^<]*)</a>', section)


def titles_listed(html: str) -> list[str]:
    section = html.split('<h2 id="needs-and-offers">', 1)[1]
    return re.findall(r'<span class="badge">(?:Need|Offer)</span> <a href="[^"]*">([^<]*)</a>', section)


async def test_the_commons_shows_organisations_needs_offers_matches_counts_and_a_map(node, http):
    need, offer = await filled(node, ("preston_council", "need", MEALS), ("the_preston_larder", "offer", CATERING))
    status, content_type, html = await get(http, node.base_url + "/commons")
    assert status == 200 and content_type.startswith("text/html")
    assert names_listed(html) == ["&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;",
                                  "Halifax Bakers", "Preston City Council", "Preston Co-operative Commons",
                                  "The Preston Larder Limited"]
    assert "5 organisations,\n1 open need and\n1 open offer." in html
    assert titles_listed(html) == ["Community catering", "School meals for 40 pupils"]
    # each with its best match, the matcher's explanation and the other side's author
    [explanation] = [row[0] for row in await node.db.fetch_all("SELECT explanation FROM matches")]
    assert f'Offer: <a href="{offer}">Community catering</a> — The Preston Larder Limited' in html
    assert f'Need: <a href="{need}">School meals for 40 pupils</a> — Preston City Council' in html
    assert html.count(f": {explanation}</span>") == 2 and "same council" in explanation
    # counts per hub, town and local authority (each a link to that filter)
    assert re.search(r'<a href="/commons\?hub=[^"]+">Preston Co-operative Commons</a></th><td class="number">2</td>'
                     r'<td class="number">0</td><td class="number">1</td>', html)
    assert '<a href="/commons?place=Preston">Preston</a></th><td class="number">4</td><td class="number">1</td>' \
           '<td class="number">1</td>' in html
    assert '<a href="/commons?authority=E08000033">E08000033</a></th><td class="number">1</td>' in html
    # the map: drawn SVG with its title and description, links to each page, and the counts right after it
    svg = re.search(r"<svg [^>]*id=\"commons-map\".*?</svg>", html, re.DOTALL).group(0)
    assert 'aria-labelledby="commons-map-title"' in svg and "<title id=\"commons-map-title\">Map of the commons" in svg
    assert "5 organisations as circles coloured by their hub, 1 open need as triangles and 1 open offer" in svg
    assert f'<a href="{offer}"><title>Open offer: Community catering</title>' in svg
    assert f'<a href="{need}"><title>Open need: School meals for 40 pupils</title>' in svg
    assert f'<a href="{node.base_url}/@halifax_bakers"><title>Organisation: Halifax Bakers (Halifax)</title>' in svg
    assert html.index("</svg>") < html.index('<h2 id="places">Counts per place</h2>') < html.index("Per hub")
    assert "Made with Natural Earth" in html
    assert '<a href="/commons">The commons</a></nav>' in html
    _, _, home = await get(http, node.base_url + "/")
    assert '<a href="/commons">The commons</a>' in home


async def test_filters_choose_organisations_and_their_needs_and_offers(node, http):
    await filled(node, ("preston_council", "need", MEALS), ("the_preston_larder", "offer", CATERING),
                 ("halifax_bakers", "offer", VAN))
    base, hub = node.base_url + "/commons", node.actor_iri("preston")

    async def listed(query: str):
        status, _, html = await get(http, f"{base}?{query}")
        assert status == 200, html
        return names_listed(html), titles_listed(html)

    assert (await listed(f"hub={hub}"))[0] == ["&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; "
                                               "&#34;quotes&#34;", "The Preston Larder Limited"]
    assert await listed(f"hub={hub}&kind=offer") == (
        ["&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;", "The Preston Larder Limited"],
        ["Community catering"])
    assert await listed("sector=Food") == (["Halifax Bakers"], ["Van hire with driver"])
    assert await listed("legal_form=Local+authority") == (["Preston City Council"], ["School meals for 40 pupils"])
    assert (await listed("place=Halifax"))[0] == ["Halifax Bakers"]
    assert (await listed("authority=e08000033"))[0] == ["Halifax Bakers"]
    assert await listed("kind=need") == (await listed(""))[:1] + (["School meals for 40 pupils"],)
    # around a point or an organisation: nearest first, with the distance
    near, _ = await listed(f"near={node.actor_iri('preston_council')}&km=1")
    assert near[0] == "Preston City Council" and "Halifax Bakers" not in near and len(near) == 4
    status, _, html = await get(http, f"{base}?lat=53.7248&lon=-1.8658&km=5")
    assert names_listed(html) == ["Halifax Bakers"] and "0.0 km away" in html
    assert await listed("lat=51.5&lon=-0.12&km=10") == ([], [])


async def test_paging_through_organisations_and_needs_and_offers(tmp_path, http):
    many = [preston_larder(username=f"coop_{number:02d}", name=f"Co-op {number:02d}", identifiers={})
            for number in range(27)]
    async with running_node(tmp_path / "many", many) as node:
        await filled(node, *[(f"coop_{number % 27:02d}", "offer", dict(VAN, title=f"Van {number:02d}"))
                             for number in range(23)])
        _, _, first = await get(http, node.base_url + "/commons")
        assert names_listed(first) == [f"Co-op {number:02d}" for number in range(25)]
        assert "1–25 of 27" in first and "Page 1 of 2" in first and '?page=2#organisations" rel="next"' in first
        assert titles_listed(first) == [f"Van {number:02d}" for number in range(22, 2, -1)]
        _, _, second = await get(http, node.base_url + "/commons?page=2&proposals_page=2")
        assert names_listed(second) == ["Co-op 25", "Co-op 26"]
        assert titles_listed(second) == ["Van 02", "Van 01", "Van 00"] and "21–23 of 23" in second
        _, _, beyond = await get(http, node.base_url + "/commons?page=9")
        assert "There are only 2 pages of organisations" in beyond


async def test_the_json_form_lists_what_the_page_lists(node, http):
    need, offer = await filled(node, ("preston_council", "need", MEALS), ("the_preston_larder", "offer", CATERING))
    for url, accept in (("/commons?kind=need", "application/json"), ("/commons?kind=need&format=json", "*/*")):
        status, content_type, text = await get(http, node.base_url + url, accept)
        assert status == 200 and content_type.startswith("application/json")
        document = json.loads(text)
        assert document["filters"] == {"kind": "need"}
        assert document["organisations"]["total"] == 5 and document["organisations"]["next"] is None
        assert {item["name"] for item in document["organisations"]["items"]} >= {HOSTILE, "Halifax Bakers"}
        [item] = document["needs_and_offers"]["items"]
        assert (item["iri"], item["kind"], item["actor_name"], item["ends"]) == (
            need, "need", "Preston City Council", "2099-03-31T23:59:59Z")
        [match] = item["matches"]
        assert match["iri"] == offer and match["title"] == "Community catering" and "same council" in \
            match["explanation"] and 0 < match["score"] <= 1
        assert document["places"]["localities"][0] == {"name": "Preston", "organisations": 4, "open_needs": 1,
                                                       "open_offers": 1}
        assert {"code": "E08000033", "organisations": 1, "open_needs": 0, "open_offers": 0} in \
            document["places"]["local_authorities"]
    status, _, _ = await get(http, node.base_url + "/commons", "text/turtle")
    assert status == 406


@pytest.mark.parametrize("query, parameter", [
    ("kind=wish", "kind"), ("lat=91&lon=0", "lat"), ("lat=53", "lon"), ("km=0&lat=53&lon=-2", "km"),
    ("km=abc", "km"), ("km=5", "km"), ("page=0", "page"), ("proposals_page=x", "proposals_page"), ("authority=Preston", "authority"),
    ("hub=javascript:alert(1)", "hub"), ("near=https://nowhere.example/actors/x", "near"), ("format=xml", "format"),
    ("sector=" + "x" * 201, "sector")])
async def test_a_bad_filter_is_refused_with_its_name(node, http, query, parameter):
    status, _, html = await get(http, f"{node.base_url}/commons?{query}")
    assert status == 400 and f"The commons cannot use {parameter}:" in html
    status, content_type, text = await get(http, f"{node.base_url}/commons?{query}", "application/json")
    assert status == 400 and content_type.startswith("application/json") and f'"{parameter}: ' in text


async def test_hostile_names_and_titles_are_escaped_everywhere(node, http):
    await filled(node, ("hostile", "offer", dict(CATERING, title=HOSTILE)))
    _, _, html = await get(http, node.base_url + "/commons")
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;owned&#39;)" in html
    svg = re.search(r"<svg [^>]*id=\"commons-map\".*?</svg>", html, re.DOTALL).group(0)
    assert "<script" not in svg and "&lt;script&gt;" in svg


async def test_a_peers_organisation_and_offer_are_in_the_commons(tmp_path, http):
    halifax = [preston_larder(username="halifax_bakers", name="Halifax Bakers", locality="Halifax",
                              latitude=53.7248, longitude=-1.8658, identifiers={})]
    async with running_node(tmp_path / "preston", profiles) as preston, \
            running_node(tmp_path / "halifax", halifax) as peer:
        await follow(preston, "preston", peer, "halifax_bakers")
        await eventually(lambda: _accepted(preston, peer.actor_iri("halifax_bakers")))
        offer = await peer.runtime.proposals.add("halifax_bakers", "offer", VAN)

        async def shown():
            _, _, html = await get(http, preston.base_url + "/commons?place=Halifax")
            return html if "Van hire with driver" in html else None

        html = await eventually(shown, timeout=20)
        assert f'<a href="{offer}">Van hire with driver</a>' in html
        assert f'<a href="{peer.base_url}/@halifax_bakers">Halifax Bakers</a>' in html


async def _accepted(node, iri: str) -> bool:
    row = await node.db.fetch_one("SELECT state FROM following WHERE actor_iri = ?", (iri,))
    return row is not None and row[0] == "accepted"


async def test_the_open_counts_kept_by_triggers_equal_a_count_of_the_proposals(node):
    need, offer, van = await filled(node, ("preston_council", "need", MEALS),
                                    ("the_preston_larder", "offer", CATERING), ("halifax_bakers", "offer", VAN))
    await node.runtime.proposals.set_status(need, "fulfilled", username="preston_council")
    await node.runtime.proposals.withdraw(van, username="halifax_bakers")
    await gathered(node)
    counted = {tuple(row) for row in await node.db.fetch_all(
        "SELECT actor_iri, SUM(kind = 'need'), SUM(kind = 'offer') FROM commons_proposals WHERE status = 'open' "
        "GROUP BY actor_iri")}
    assert counted == {(node.actor_iri("the_preston_larder"), 0, 1)}
    assert {tuple(row) for row in await node.db.fetch_all("SELECT * FROM commons_open_by_actor")} == counted
    assert [tuple(row) for row in await node.db.fetch_all("SELECT kind, open FROM commons_open_cells")] == [
        ("offer", 1)]
    assert await directory.open_totals(node.db, Filters(), 0) == {"need": 0, "offer": 1}
    # an open proposal whose end has passed is left out at read time
    assert await directory.open_totals(node.db, Filters(), 2 ** 40) == {"need": 0, "offer": 0}


def plan(rows) -> str:
    return " | ".join(row[3] for row in rows)


async def test_the_page_reads_through_indexes_and_counts_not_every_proposal(node):
    db, now = node.db, 0
    unfiltered = directory.open_query(Filters(), now, chosen=100_000, everything=100_000, wanted=20)
    assert "USING INDEX commons_proposals_open" in plan(await db.fetch_all(f"EXPLAIN QUERY PLAN {unfiltered[0]} "
                                                                           "LIMIT 20", unfiltered[1]))
    assert "TEMP B-TREE" not in plan(await db.fetch_all(f"EXPLAIN QUERY PLAN {unfiltered[0]} LIMIT 20",
                                                        unfiltered[1]))
    few = Filters(hub=node.actor_iri("preston"))
    by_owner = directory.open_query(few, now, chosen=10, everything=100_000, wanted=20)
    assert "USING INDEX commons_proposals_by_actor" in plan(await db.fetch_all(f"EXPLAIN QUERY PLAN {by_owner[0]}",
                                                                               by_owner[1]))
    walking = directory.open_query(few, now, chosen=50_000, everything=100_000, wanted=20)
    assert "USING INDEX commons_proposals_open" in plan(await db.fetch_all(f"EXPLAIN QUERY PLAN {walking[0]}",
                                                                           walking[1]))
    # the totals, counts per place and map cells never read commons_proposals but for the stale ones, by index
    # (traced on a connection of the test's own: the serving node's tasks query beside it)
    traced = []
    async with node_database(node) as own:
        await own.connection.set_trace_callback(traced.append)
        totals = await directory.open_totals(own, Filters(), now)
        await places.places(own, Filters(), now, limit=25)
        await places.proposal_cells(own, Filters(), now, places.Grid(0.1, 0.1))
        await own.connection.set_trace_callback(None)
    assert totals == {"need": 0, "offer": 0}
    for statement in [sql for sql in traced if "commons_proposals" in sql]:
        assert "INDEXED BY commons_proposals_by_end" in statement
        assert "commons_proposals_by_end" in plan(await db.fetch_all(f"EXPLAIN QUERY PLAN {statement}"))
    around = Around(53.76, -2.70, 5)
    clause, parameters = around.clause()
    assert "commons_organisations_by_place" in plan(await db.fetch_all(
        f"EXPLAIN QUERY PLAN SELECT iri FROM commons_organisations o WHERE {clause}", parameters))
