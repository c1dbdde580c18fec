"""The matcher's candidate search (node.commons.matcher) finds exactly what scoring every open proposal of the other
kind would: its shortcuts (the CPV branch a need's offers must share, the window, the band of latitude an area can
reach, the distance checked before the JSON is read, the R*Tree without CPV codes) never lose a pair."""

import random
from datetime import datetime, timedelta, timezone

from node.commons import index
from node.commons.index import IndexedProposal
from node.commons.matcher import MIN_SCORE, PAIRS_PER_PROPOSAL, Matcher, side_from, side_record
from vocab.cpv import CpvList
from vocab.matching import match
from vocab.organisation import OrganisationFacts
from vocab.proposal_builder import build

CPV = CpvList.bundled()
NOW = datetime.now(timezone.utc)
# Codes near one another in the tree (a need for 03000000 meets an offer of 03212100) and a few far away.
CODES = ("03000000", "03200000", "03212100", "03212200", "03221000", "15000000", "15811000", "15811100",
         "55000000", "55520000", "55524000", "79800000", "79810000")
OTHER_SCHEME = ("https://example.org/kinds#bread", "https://example.org/kinds#vans")
PLACES = ((53.7632, -2.7031), (54.0466, -2.8007), (53.6458, -1.7850), (53.4808, -2.2426), (51.5074, -0.1278))


def generated(count: int, rng: random.Random) -> list[IndexedProposal]:
    items = []
    for number in range(count):
        kind = rng.choice(("need", "offer"))
        latitude, longitude = rng.choice(PLACES)
        latitude, longitude = latitude + rng.uniform(-0.3, 0.3), longitude + rng.uniform(-0.4, 0.4)
        starts = NOW.date() + timedelta(days=rng.randint(-20, 60))
        fields = {"title": f"{kind} {number}", "cpv": rng.choice(CODES),
                  "starts": starts.isoformat(), "ends": (max(starts, NOW.date()) + timedelta(
                      days=rng.randint(5, 200))).isoformat()}
        if rng.random() < 0.8:  # the others state no area: no restriction
            fields.update(area_latitude=round(latitude, 5), area_longitude=round(longitude, 5),
                          radius_km=rng.choice((5, 15, 30, 60, 150)))
        if rng.random() < 0.5:
            fields.update(quantity=str(rng.randint(1, 100)), unit=rng.choice(("kilogram", "one")))
        foreign = "area_latitude" not in fields or rng.random() < 0.15  # a peer's: no area, or another scheme
        if foreign and rng.random() < 0.5:
            fields["cpv"] = rng.choice(OTHER_SCHEME)  # no CPV code: candidates come from the R*Tree
        proposal = build(kind, fields, CPV, now=NOW, foreign=foreign)
        actor = f"https://node.example/actors/a{rng.randint(0, 15)}"
        owner = OrganisationFacts(name="Owner", actor_type="Organization", is_coop=rng.random() < 0.5,
                                  local_authority=rng.choice(("E07000123", "E08000034", "")),
                                  latitude=latitude, longitude=longitude)
        iri = f"https://node.example/objects/{number}"
        area = proposal.area
        items.append(IndexedProposal(
            iri=iri, actor_iri=actor, kind=kind, status="open", title=proposal.title,
            side=side_record(iri, actor, proposal, owner), is_local=True,
            starts_at=int(proposal.starts.timestamp()), ends_at=int(proposal.ends.timestamp()),
            point=(area.latitude, area.longitude) if area else (latitude, longitude),
            radius_km=area.radius_km if area else None, codes=tuple(proposal.classifications), words=proposal.title,
            updated_at=0))
    return items


async def test_the_candidates_lose_no_pair(db):
    rng = random.Random(20261206)
    items = generated(400, rng)
    async with db.transaction() as connection:
        await index.put_proposals_in(connection, items)
    clock = NOW.timestamp()
    matcher = Matcher(db, clock=lambda: clock)
    moment = datetime.fromtimestamp(int(clock), timezone.utc)
    sides = {item.iri: side_from(item.side) for item in items}
    compared = 0
    for item in items:
        await matcher.rank([item.iri])
        mine = "need_iri" if item.kind == "need" else "offer_iri"
        found = [tuple(row) for row in await db.fetch_all(
            f"SELECT need_iri, offer_iri, score FROM matches WHERE {mine} = ? ORDER BY score DESC, need_iri, offer_iri",
            (item.iri,))]
        expected = []
        for other in items:
            if other.kind == item.kind:
                continue
            need, offer = (sides[item.iri], sides[other.iri]) if item.kind == "need" else \
                (sides[other.iri], sides[item.iri])
            pair = match(need, offer, now=moment)
            if pair is not None and pair.score >= MIN_SCORE:
                expected.append((pair.need_iri, pair.offer_iri, round(pair.score, 4)))
        expected.sort(key=lambda pair: (-pair[2], pair[0], pair[1]))
        # ranking one proposal replaces its pairs only; a later one may have replaced them from the other side
        assert [pair[:2] for pair in found] == [pair[:2] for pair in expected[:PAIRS_PER_PROPOSAL]], item.iri
        compared += len(expected)
    assert compared > 500  # the generated commons is crowded enough for the shortcuts to matter


def test_an_extent_without_an_area_is_the_whole_world():
    item = IndexedProposal(iri="x", actor_iri="a", kind="need", status="open", title="", side={}, is_local=True,
                           starts_at=None, ends_at=None, point=(53.76, -2.70), radius_km=None, codes=(), words="",
                           updated_at=0)
    assert item.extent() == (*index.WORLD, *index.ALL_TIME)
    assert IndexedProposal(**{**vars(item), "radius_km": 10.0}).extent()[:2] == (53.76 - 10 / index.KM_PER_DEGREE,
                                                                                  53.76 + 10 / index.KM_PER_DEGREE)
