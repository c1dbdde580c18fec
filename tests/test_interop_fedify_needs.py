"""Fedify (an independent implementation, installed from npm and started by this test) follows our co-op and
receives its needs over HTTPS: the signed Create of a `["Note", "Proposal"]` verifies and parses with Fedify's own
vocabulary (its FEP-0837 `Proposal`, an AS2 Object), an edit arrives as an Update, and a withdrawal as a Delete of
a Tombstone. The Create is signed once with each of our schemes."""

import html
import json
import re
from datetime import date, datetime, timedelta, timezone

import fedify
import pytest
import test_interop_fedify_federation as fedify_federation
from test_interop_fedify_federation import (COOP, FEDIFY_CAVAGE, FEDIFY_RFC9421, OUR_CAVAGE, OUR_RFC9421, Pair,
                                            eventually, fedify_follows, fedify_got, remember_scheme)

from vocab.context import AS2_PUBLIC

fedify_node = fedify.fedify_node  # the session fixture that installs Fedify
pair = fedify_federation.pair  # this module's node and Fedify peer, started as that module starts its own

pytestmark = pytest.mark.asyncio(loop_scope="module")

GBP = "http://www.wikidata.org/entity/Q25224"
SCHEMES = [pytest.param(OUR_CAVAGE, FEDIFY_CAVAGE, id="draft-cavage"),
           pytest.param(OUR_RFC9421, FEDIFY_RFC9421, id="rfc9421")]


def school_lunches(ends: date) -> dict:
    """A need as a primary school's caterer would post it."""
    return {
        "title": "Hot school lunches for St Stephen's pupils",
        "description": "Forty hot lunches each school day, one of them vegetarian, delivered by 11:30.",
        "cpv": "55524000, 55520000",  # school catering services, catering services
        "quantity": "40", "unit": "meal", "recurrence": "R/P1D",
        "ends": ends.isoformat(),
        "location": "St Stephen's C of E Primary School, Preston PR1 6SD",
        "location_latitude": 53.7703, "location_longitude": -2.6932,
        "price": "3.20", "currency": "GBP", "exchange": "per meal, invoiced monthly",
        "hashtags": ["SchoolFood"],
    }


def day_as_written(day: date) -> str:
    """How the post writes a day: "16 Jul 2027"."""
    return f"{day.day} {day:%b %Y}"


def text_of(content: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", content))


async def sent_activity(pair: Pair, iri: str, kind: str) -> dict:
    """The newest activity of this kind about the object, as our outbox holds (and delivered) it."""
    body = await pair.db.scalar(
        "SELECT json FROM outbox WHERE object_iri = ? AND type = ? ORDER BY seq DESC LIMIT 1", (iri, kind))
    assert body is not None, f"no {kind} of {iri} in the outbox"
    return json.loads(body)


async def delivered(pair: Pair, activity_id: str) -> tuple[str, int | None]:
    """Our delivery of the activity to Fedify, once it is no longer pending: (state, last HTTP status)."""

    async def settled():
        row = await pair.db.fetch_one("SELECT state, last_status FROM deliveries WHERE activity_id = ?",
                                      (activity_id,))
        return tuple(row) if row is not None and row[0] != "pending" else None

    return await eventually(settled, f"our delivery of {activity_id} to Fedify settles", pair.diagnostics)


async def inbox_answers(pair: Pair, activity_id: str) -> str:
    """Fedify's inbox requests for the activity, with any error answer, and the end of its log."""
    requests = [entry for entry in (await pair.fedify.state())["inboxRequests"] if entry["activity"] == activity_id]
    return f"Fedify's inbox answered: {requests}\nFedify's log:\n{pair.fedify.log()}"


async def assert_fedify_accepted(pair: Pair, activity_id: str, scheme: str) -> dict:
    """Fedify's inbox took the activity at the first knock with our scheme, and its listener got it."""
    outcome = await delivered(pair, activity_id)
    assert outcome == ("sent", 202), await inbox_answers(pair, activity_id)
    assert await pair.fedify.requests_for(activity_id) == [(scheme, 202)], await inbox_answers(pair, activity_id)
    received = await fedify_got(pair, activity_id)
    assert received["verified"] and received["actor"] == pair.node.actor_iri(COOP)
    assert received["object"]["details"] is not None and "error" not in received["object"]["details"], received
    return received


@pytest.mark.parametrize("our_scheme, fedify_scheme", SCHEMES)
async def test_fedify_parses_our_need_as_a_proposal_whose_content_carries_it(pair, our_scheme, fedify_scheme):
    await fedify_follows(pair, COOP)
    await remember_scheme(pair, our_scheme)
    ends = datetime.now(timezone.utc).date() + timedelta(days=120)
    fields = school_lunches(ends)
    iri = await pair.node.runtime.proposals.add(COOP, "need", fields)
    sent = await sent_activity(pair, iri, "Create")

    create = await assert_fedify_accepted(pair, sent["id"], fedify_scheme)
    assert create["type"] == "Create"
    note = create["object"]
    # Fedify reads ["Note", "Proposal"] as its FEP-0837 Proposal, which extends AS2's Object (as Note does).
    assert note["type"] == "Proposal" and note["id"] == iri
    assert note["attributedTo"] == pair.node.actor_iri(COOP)
    content = text_of(note["content"])
    assert fields["title"] in content
    assert "How much: 40 meals, every day" in content
    assert f"until {day_as_written(ends)}" in content
    assert "£3.20 (per meal, invoiced monthly)" in content
    for hashtag in ("#SchoolCateringServices", "#CateringServices", "#CoopNeeds", "#SchoolFood"):
        assert hashtag in content

    parsed = note["details"]
    assert parsed["name"] == f"NEED: {fields['title']}"
    assert parsed["to"] == [AS2_PUBLIC]
    assert parsed["cc"] == [f"{pair.node.actor_iri(COOP)}/followers"]
    assert parsed["url"] == iri and parsed["published"] == sent["object"]["published"]
    base = pair.node.base_url
    assert parsed["tags"] == [{"class": "Hashtag", "name": f"#{name}", "href": f"{base}/tags/{name.lower()}"}
                              for name in ("SchoolCateringServices", "CateringServices", "CoopNeeds", "SchoolFood")]
    assert parsed["location"] == {"class": "Place", "name": fields["location"], "latitude": 53.7703,
                                  "longitude": -2.6932}
    # The ValueFlows part reaches Fedify's FEP-0837 classes: the primary Intent and the price's currency.
    assert parsed["publishes"] is not None and parsed["publishes"]["class"] == "Intent", parsed
    assert parsed["reciprocal"] is not None and parsed["reciprocal"]["resourceConformsTo"] == GBP, parsed
    assert (await pair.fedify.state())["unverified"] == []


async def test_fedify_gets_an_update_when_a_need_changes(pair):
    await fedify_follows(pair, COOP)
    await remember_scheme(pair, OUR_CAVAGE)
    service = pair.node.runtime.proposals
    iri = await service.add(COOP, "need", school_lunches(datetime.now(timezone.utc).date() + timedelta(days=60)))
    update_id = await service.update(iri, {"quantity": "60"}, username=COOP)

    update = await assert_fedify_accepted(pair, update_id, FEDIFY_CAVAGE)
    assert update["type"] == "Update" and update["object"]["id"] == iri and update["object"]["type"] == "Proposal"
    assert "How much: 60 meals, every day" in text_of(update["object"]["content"])
    assert update["object"]["details"]["updated"] is not None


async def test_fedify_gets_a_delete_of_a_tombstone_when_a_need_is_withdrawn(pair):
    await fedify_follows(pair, COOP)
    await remember_scheme(pair, OUR_CAVAGE)
    service = pair.node.runtime.proposals
    iri = await service.add(COOP, "need", school_lunches(datetime.now(timezone.utc).date() + timedelta(days=30)))
    await delivered(pair, (await sent_activity(pair, iri, "Create"))["id"])  # the Create went first
    delete_id = await service.withdraw(iri, username=COOP)

    delete = await assert_fedify_accepted(pair, delete_id, FEDIFY_CAVAGE)
    assert delete["type"] == "Delete" and delete["objectId"] == iri
    assert delete["object"]["type"] == "Tombstone" and delete["object"]["id"] == iri
    assert delete["object"]["details"]["class"] == "Tombstone"
    # Not asserted: Fedify's formerTypes. The AS2 context types formerType as "@id", so a JSON-LD reader takes
    # our "Note" and "Proposal" for relative IRIs and Fedify finds no type in them (FEDERATION.md says so).
