"""Matching in the commons: each open need ranked against open offers and the reverse, from the index (areas,
windows and CPV divisions that meet), scored and explained by vocab.matching; a changed or withdrawn offer changes
every pair it was in; closed, expired and one's own proposals never match."""

import pytest

from node import runtime
from nodes import create_node, preston_hub, preston_larder

MEALS = dict(title="School meals", cpv="55524000", quantity="1200", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")
VEGETABLES = dict(title="Organic vegetables", cpv="03221000", quantity="200", unit="kg", ends="2099-03-31")


def council(username="preston_council", **changes):
    fields = dict(username=username, name="Preston City Council", organisational_structure="", identifiers={},
                  latitude=53.7590, longitude=-2.6990)
    return preston_larder(**{**fields, **changes})


@pytest.fixture
async def node(tmp_path):
    profiles = [preston_hub(), preston_larder(), council(),
                preston_larder(username="kirklees_kitchen", name="Kirklees Kitchen", identifiers={},
                               latitude=53.6450, longitude=-1.7798, local_authority="E08000034"),
                preston_larder(username="aberdeen_meals", name="Aberdeen Meals", identifiers={},
                               latitude=57.1497, longitude=-2.0943, local_authority="S12000033")]
    config = await create_node(tmp_path / "node", "127.0.0.1:8481", profiles=profiles)
    async with runtime.opened(config) as opened:
        yield opened


async def publish(node, username, kind, fields) -> str:
    iri = await node.proposals.add(username, kind, fields)
    await node.commons.gatherer.catch_up()
    return iri


async def pairs(node) -> dict[tuple[str, str], tuple[float, str]]:
    rows = await node.db.fetch_all("SELECT need_iri, offer_iri, score, explanation FROM matches")
    return {(row[0], row[1]): (row[2], row[3]) for row in rows}


async def test_a_need_finds_the_near_offers_of_its_trade_best_first(node):
    need = await publish(node, "preston_council", "need", {**MEALS, "radius_km": 80})
    near = await publish(node, "the_preston_larder", "offer", CATERING)
    farther = await publish(node, "kirklees_kitchen", "offer", {**CATERING, "radius_km": 60})
    await publish(node, "aberdeen_meals", "offer", CATERING)  # 450 km away: the areas do not meet
    await publish(node, "the_preston_larder", "offer", VEGETABLES)  # another trade
    found = await pairs(node)
    assert set(found) == {(need, near), (need, farther)}
    assert found[(need, near)][0] > found[(need, farther)][0]
    assert found[(need, near)][1] == "CPV 4 of 5 digits, 0.2 km, window 100 %, quantity 33 %, same council"
    assert " km, window 100 %" in found[(need, farther)][1] and "same council" not in found[(need, farther)][1]


async def test_an_offer_published_after_the_need_is_matched_from_its_side_too(node):
    offer = await publish(node, "the_preston_larder", "offer", CATERING)
    need = await publish(node, "preston_council", "need", MEALS)
    assert set(await pairs(node)) == {(need, offer)}


async def test_an_edited_offer_changes_its_pairs_and_a_withdrawn_one_leaves(node):
    need = await publish(node, "preston_council", "need", MEALS)
    offer = await publish(node, "the_preston_larder", "offer", CATERING)
    before = (await pairs(node))[(need, offer)]
    await node.proposals.update(offer, {"quantity": "1200"})
    await node.commons.gatherer.catch_up()
    after = (await pairs(node))[(need, offer)]
    assert after[0] > before[0] and "quantity 100 %" in after[1]
    await node.proposals.update(offer, {"cpv": "03221000"})  # now vegetables: no longer a match
    await node.commons.gatherer.catch_up()
    assert await pairs(node) == {}
    await node.proposals.update(offer, {"cpv": "55520000"})
    await node.commons.gatherer.catch_up()
    assert set(await pairs(node)) == {(need, offer)}
    await node.proposals.withdraw(offer)
    await node.commons.gatherer.catch_up()
    assert await pairs(node) == {}


async def test_closed_and_own_proposals_never_match(node):
    need = await publish(node, "preston_council", "need", MEALS)
    await publish(node, "preston_council", "offer", CATERING)  # its own offer
    offer = await publish(node, "the_preston_larder", "offer", CATERING)
    assert set(await pairs(node)) == {(need, offer)}
    await node.proposals.set_status(need, "fulfilled")
    await node.commons.gatherer.catch_up()
    assert await pairs(node) == {}


async def test_an_expired_offer_is_not_a_candidate(node):
    offer = await publish(node, "the_preston_larder", "offer", CATERING)
    await node.db.write("UPDATE commons_proposals SET ends_at = 1 WHERE iri = ?", (offer,))  # as if it ended
    need = await publish(node, "preston_council", "need", MEALS)
    assert await pairs(node) == {} and need
