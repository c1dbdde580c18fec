"""The client-to-server API on a running node: POST to an actor's outbox with a bearer token creates, changes and
withdraws needs and offers, as followers (a second node) see; every refusal names why and stores nothing."""

import json
from datetime import date, timedelta

import pytest
from processes import run_async

from nodes import eventually, follow, follower_state, preston_larder, received_object, running_node

AS2 = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
LARDER = "the_preston_larder"
ENDS = (date.today() + timedelta(days=365)).isoformat()


def school_meals(**changes) -> dict:
    """A need as a simple client writes it: a Proposal with its purpose and primary Intent."""
    document = {
        "type": "Proposal", "purpose": "request", "name": "School meals for 40 pupils",
        "note": "Hot lunches, term time.", "hasEnd": ENDS,
        "publishes": {"type": "Intent", "resourceClassifiedAs": ["55520000"],
                      "resourceQuantity": {"hasNumericalValue": "40", "hasUnit": "one"}},
    }
    document.update(changes)
    return document


def create(document: dict, **activity) -> dict:
    return {"@context": AS2, "type": "Create", "object": document, **activity}


async def token_for(node, capsys, username: str) -> str:
    code, out, _ = await run_async(capsys, "--data", node.config.data_dir, "token", "create", username)
    assert code == 0
    return out.strip()


@pytest.fixture
async def larder(preston_node, capsys):
    """The running Preston node and a token of the Preston Larder."""
    return preston_node, await token_for(preston_node, capsys, LARDER)


async def post(http, node, body, *, token: str | None = None, username: str = LARDER,
               content_type: str = ACTIVITY_JSON, raw: bytes | None = None):
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    async with http.post(f"{node.base_url}/actors/{username}/outbox", data=data, headers=headers) as response:
        return response.status, response.headers.copy(), await response.json(content_type=None)


async def get_as2(http, url: str):
    async with http.get(url, headers={"Accept": ACTIVITY_JSON}) as response:
        return response.status, await response.json(content_type=None)


async def page_ids(http, collection_url: str, key: str = "id") -> list:
    status, page = await get_as2(http, f"{collection_url}?page=1")
    assert status == 200
    return [item[key] if key == "id" else item[key]["id"] for item in page["orderedItems"]]


async def stored_counts(node) -> tuple[int, int, int]:
    """Our own objects, proposals and outbox entries: what a refused post must leave untouched."""
    db = node.db
    return (await db.scalar("SELECT COUNT(*) FROM objects WHERE username IS NOT NULL"),
            await db.scalar("SELECT COUNT(*) FROM proposals"), await db.scalar("SELECT COUNT(*) FROM outbox"))


# ---------------------------------------------------------------- create, update, delete


async def test_create_publishes_a_need_listed_in_the_needs_and_outbox(larder, http):
    node, token = larder
    status, headers, activity = await post(http, node, create(school_meals()), token=token)
    assert status == 201, activity
    assert headers["Location"] == activity["id"] and activity["id"].startswith(f"{node.base_url}/activities/")
    assert headers["Content-Type"].startswith(ACTIVITY_JSON)
    assert activity["type"] == "Create" and activity["actor"] == node.actor_iri(LARDER)
    iri = activity["object"]["id"]
    assert iri.startswith(f"{node.base_url}/objects/")

    status, served = await get_as2(http, iri)
    assert status == 200 and served["type"] == ["Note", "Proposal"] and served["purpose"] == "request"
    assert served["name"] == "NEED: School meals for 40 pupils" and served["note"] == "Hot lunches, term time."
    assert served["hasEnd"] == f"{ENDS}T23:59:59Z"
    assert served["eligibleLocation"]["latitude"] == pytest.approx(53.760467)  # the actor's location by default
    assert served["publishes"]["resourceQuantity"]["hasNumericalValue"] == "40"
    status, announced = await get_as2(http, headers["Location"])
    assert status == 200 and announced["object"]["id"] == iri

    actor_iri = node.actor_iri(LARDER)
    assert await page_ids(http, f"{actor_iri}/needs") == [iri]
    assert await page_ids(http, f"{actor_iri}/offers") == []
    assert await page_ids(http, f"{actor_iri}/outbox") == [activity["id"]]
    assert (await get_as2(http, f"{actor_iri}/outbox"))[1]["totalItems"] == 1
    last_used = await node.db.scalar("SELECT last_used_at FROM tokens WHERE username = ?", (LARDER,))
    assert last_used is not None


async def test_a_bare_proposal_is_wrapped_in_a_create(larder, http):
    node, token = larder
    offer = school_meals(purpose="offer", name="Surplus bread, daily", hasEnd=None,
                         hasBeginning=date.today().isoformat(), unitBased=True,
                         publishes={"resourceClassifiedAs": ["http://data.europa.eu/cpv/cpv/15811000"],
                                    "resourceQuantity": {"hasNumericalValue": "10", "hasUnit": "kg"}},
                         eligibleLocation={"latitude": 53.76, "longitude": -2.7, "radius": 5})
    offer["hasEnd"] = ENDS
    status, headers, activity = await post(http, node, {"@context": AS2, **offer}, token=token,
                                           content_type=f'application/ld+json; profile="{AS2}"')
    assert status == 201, activity
    assert activity["type"] == "Create" and activity["object"]["purpose"] == "offer"
    assert activity["object"]["eligibleLocation"]["radius"] == 5 and activity["object"]["unitBased"] is True
    assert await page_ids(http, f"{node.actor_iri(LARDER)}/offers") == [activity["object"]["id"]]


async def test_update_replaces_the_properties_sent_and_keeps_the_rest(larder, http):
    node, token = larder
    _, _, created = await post(http, node, create(school_meals()), token=token)
    iri = created["object"]["id"]

    change = {"type": "Update", "object": {"id": iri, "name": "School meals for 60 pupils", "note": None}}
    status, headers, update = await post(http, node, change, token=token, content_type="application/json")
    assert status == 201, update
    assert update["type"] == "Update" and headers["Location"] == update["id"] != created["id"]
    status, served = await get_as2(http, iri)
    assert served["name"] == "NEED: School meals for 60 pupils" and "note" not in served  # null removed it
    assert served["hasEnd"] == f"{ENDS}T23:59:59Z" and served["published"] == created["object"]["published"]
    assert "updated" in served
    assert await page_ids(http, f"{node.actor_iri(LARDER)}/needs") == [iri]

    status, _, _ = await post(http, node, {"type": "Update", "object": {"id": iri, "status": "fulfilled"}},
                              token=token)
    assert status == 201
    assert (await get_as2(http, iri))[1]["status"] == "fulfilled"
    assert await page_ids(http, f"{node.actor_iri(LARDER)}/needs") == []  # only open ones are listed
    outbox = await page_ids(http, f"{node.actor_iri(LARDER)}/outbox")
    assert len(outbox) == 3 and outbox[-1] == created["id"]


async def test_delete_withdraws_and_a_second_delete_is_gone(larder, http):
    node, token = larder
    _, _, created = await post(http, node, create(school_meals()), token=token)
    iri = created["object"]["id"]

    status, headers, deleted = await post(http, node, {"type": "Delete", "object": iri}, token=token)
    assert status == 201, deleted
    assert deleted["type"] == "Delete" and deleted["object"]["type"] == "Tombstone" and headers["Location"]
    assert (await get_as2(http, iri))[0] == 410
    assert await page_ids(http, f"{node.actor_iri(LARDER)}/needs") == []

    tombstone = {"type": "Delete", "object": {"id": iri, "type": "Tombstone"}}
    status, _, refused = await post(http, node, tombstone, token=token)
    assert status == 410 and "withdrawn" in refused["error"]


# ---------------------------------------------------------------- refusals


MISSING_OR_UNKNOWN = [  # (Authorization header, the reason, RFC 6750's error code)
    (None, "a token is required", None),
    ("Basic dXNlcjpwYXNz", "a token is required", None),
    ("Bearer ", "the token is unknown", "invalid_token"),
    ("Bearer not-a-token-of-this-node", "the token is unknown", "invalid_token"),
]


async def test_missing_or_unknown_token_is_401(larder, http):
    node, _ = larder
    for authorization, reason, error_code in MISSING_OR_UNKNOWN:
        headers = {"Content-Type": ACTIVITY_JSON, **({"Authorization": authorization} if authorization else {})}
        async with http.post(f"{node.base_url}/actors/{LARDER}/outbox", data=json.dumps(create(school_meals())),
                             headers=headers) as response:
            status, challenge, body = response.status, response.headers["WWW-Authenticate"], await response.json()
        assert status == 401 and reason in body["error"], authorization
        assert challenge.startswith(f'Bearer realm="{node.domain}"')
        assert (f'error="{error_code}"' in challenge) if error_code else ("error=" not in challenge), authorization
    assert await stored_counts(node) == (0, 0, 0)


async def test_revoked_token_is_401(larder, http, capsys):
    node, token = larder
    code, _, _ = await run_async(capsys, "--data", node.config.data_dir, "token", "revoke", "1")
    assert code == 0
    status, headers, body = await post(http, node, create(school_meals()), token=token)
    assert status == 401 and body["error"] == "the token was revoked"
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert await stored_counts(node) == (0, 0, 0)


async def test_another_actors_token_is_403(larder, http, capsys):
    node, larder_token = larder
    status, headers, body = await post(http, node, create(school_meals()), token=larder_token, username="preston")
    assert status == 403 and "acts for the_preston_larder, not preston" in body["error"]
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    assert await stored_counts(node) == (0, 0, 0)


async def test_invalid_fields_are_listed_and_nothing_is_stored(larder, http):
    node, token = larder
    broken = school_meals(hasEnd=None, publishes={"resourceClassifiedAs": ["99999999"],
                                                  "resourceQuantity": {"hasNumericalValue": "-3"}})
    status, _, body = await post(http, node, create(broken), token=token)
    assert status == 400 and "nothing was stored" in body["error"]
    problems = {problem["field"]: problem for problem in body["problems"]}
    assert problems["cpv"]["property"] == "publishes.resourceClassifiedAs" and "99999999" in problems["cpv"]["reason"]
    assert "more than zero" in problems["quantity"]["reason"]
    assert await stored_counts(node) == (0, 0, 0)

    status, _, body = await post(http, node, create(school_meals(hasEnd=None)), token=token)  # our own rules
    assert status == 400 and body["problems"] == [
        {"field": "ends", "property": "hasEnd", "reason": "an end date is required: the need or offer expires then"}]
    status, _, body = await post(http, node, create(school_meals(status="fulfilled")), token=token)
    assert status == 400 and body["problems"][0]["field"] == "status"
    oddly_typed = [(school_meals(purpose=["request"]), '"field": "purpose"'),
                   (school_meals(reciprocal={"resourceConformsTo": ["GBP"]}), '"field": "currency"'),
                   (school_meals(type=7), "of type (none)")]
    for document, expected in oddly_typed:
        status, _, body = await post(http, node, create(document), token=token)
        assert status == 400 and expected in json.dumps(body), body
    assert await stored_counts(node) == (0, 0, 0)


async def test_other_content_types_are_415(larder, http):
    node, token = larder
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         'application/ld+json; profile="https://schema.org/"'):
        status, _, body = await post(http, node, create(school_meals()), token=token, content_type=content_type)
        assert status == 415 and ACTIVITY_JSON in body["error"], content_type
    async with http.post(f"{node.base_url}/actors/{LARDER}/outbox", data=json.dumps(create(school_meals())),
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 415  # none at all
    assert await stored_counts(node) == (0, 0, 0)


UNSUPPORTED = [  # (body, what the refusal says)
    ({"type": "Follow", "object": "https://elsewhere.example/actors/ann"}, "cannot take an activity of type Follow"),
    ({"type": "Like", "object": "https://elsewhere.example/objects/1"}, "cannot take an activity of type Like"),
    ({"type": "Offer", "object": {"type": "Note", "content": "bread"}}, "a Proposal with purpose \"offer\""),
    (create({"type": "Note", "content": "Hello, Preston"}), "cannot take an object of type Note"),
    ({"type": "Note", "content": "Hello, Preston"}, "cannot take an object of type Note"),
    (create("https://elsewhere.example/objects/1"), "must embed its object"),
    (create(school_meals(), actor="http://127.0.0.1:1/actors/preston"), "the activity's actor must be"),
    (create(school_meals(attributedTo="http://127.0.0.1:1/actors/x")), "attributedTo must be"),
    (create(school_meals(to=["http://127.0.0.1:1/actors/ann"])), "needs and offers are public"),
    (create(school_meals(), bcc=["http://127.0.0.1:1/actors/ann"]), "bto and bcc are not supported"),
    ({"type": "Update", "object": {"name": "no id"}}, "needs the id"),
    ({"type": "Delete"}, "needs the id"),
]


async def test_unsupported_activities_are_400_naming_what_is_supported(larder, http):
    node, token = larder
    for body, expected in UNSUPPORTED:
        status, _, answer = await post(http, node, body, token=token)
        assert status == 400 and expected in answer["error"], (body, answer)
        if "cannot take" in expected:
            assert "Create, Update and Delete of a need or offer" in answer["error"]
    assert await stored_counts(node) == (0, 0, 0)


async def test_malformed_bodies_are_400(larder, http):
    node, token = larder
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"', b"[" * 100_000):
        status, _, body = await post(http, node, None, token=token, raw=raw)
        assert status == 400 and ("not JSON" in body["error"] or "JSON object" in body["error"]), raw[:20]


async def test_someone_elses_or_unknown_objects_are_refused(larder, http, capsys):
    node, token = larder
    hub_need = await node.runtime.proposals.add("preston", "need", dict(
        title="Venue for the co-op fair", cpv="70220000", ends=ENDS))
    before = await stored_counts(node)
    for body in ({"type": "Update", "object": {"id": hub_need, "name": "Taken over"}},
                 {"type": "Delete", "object": hub_need}):
        status, _, answer = await post(http, node, body, token=token)
        assert status == 403 and "preston's, not the_preston_larder's" in answer["error"]
    unknown = f"{node.base_url}/objects/0000"
    status, _, answer = await post(http, node, {"type": "Delete", "object": unknown}, token=token)
    assert status == 404 and unknown in answer["error"]
    assert await stored_counts(node) == before
    assert (await get_as2(http, hub_need))[1]["name"] == "NEED: Venue for the co-op fair"


async def test_a_need_cannot_become_an_offer(larder, http):
    node, token = larder
    _, _, created = await post(http, node, create(school_meals()), token=token)
    iri = created["object"]["id"]
    status, _, body = await post(http, node, {"type": "Update", "object": {"id": iri, "purpose": "offer"}},
                                 token=token)
    assert status == 400 and body["problems"][0]["field"] == "purpose"
    assert (await get_as2(http, iri))[1]["purpose"] == "request"


async def test_unknown_or_removed_actor_and_oversized_body(larder, http, capsys):
    node, token = larder
    status, _, body = await post(http, node, create(school_meals()), token=token, username="nobody")
    assert status == 404 and "nobody" in body["error"]
    hub_token = await token_for(node, capsys, "preston")
    assert (await run_async(capsys, "--data", node.config.data_dir, "actor", "remove", "preston"))[0] == 0
    status, _, body = await post(http, node, create(school_meals()), token=hub_token, username="preston")
    assert status == 410 and "preston has left this node" in body["error"]
    padded = create(school_meals(note="x" * (1024 * 1024)))
    status, _, body = await post(http, node, padded, token=token)
    assert status == 413 and "too large" in body["error"]
    assert await stored_counts(node) == (0, 0, 0)


async def test_browsers_may_preflight_and_read_the_location(larder, http):
    node, token = larder
    async with http.options(f"{node.base_url}/actors/{LARDER}/outbox", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"}) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
    _, headers, _ = await post(http, node, create(school_meals()), token=token)
    assert headers["Access-Control-Expose-Headers"] == "Location"
    async with http.get(f"{node.base_url}/actors/{LARDER}/outbox", headers={"Accept": ACTIVITY_JSON}) as response:
        assert response.status == 200  # the GET of the same path is still the public collection


# ---------------------------------------------------------------- federation


async def test_a_follower_on_another_node_receives_the_create_and_the_delete(larder, http, tmp_path):
    node, token = larder
    async with running_node(tmp_path / "reader", [preston_larder(username="kirklees_bakers",
                                                                 name="Kirklees Bakers")]) as reader:
        await follow(reader, "kirklees_bakers", node, LARDER)
        await eventually(lambda: follower_state(node, LARDER, reader.actor_iri("kirklees_bakers")),
                         message="the Larder's node records the follower")

        _, _, created = await post(http, node, create(school_meals()), token=token)
        iri = created["object"]["id"]
        row = await eventually(lambda: received_object(reader, iri), message="the follower's node keeps the need")
        document = json.loads(row["json"])
        assert "Proposal" in document["type"] and document["purpose"] == "request"
        assert "School meals for 40 pupils" in document["content"]

        await post(http, node, {"type": "Delete", "object": iri}, token=token)

        async def withdrawn():
            return (await received_object(reader, iri))["deleted_at"] is not None

        await eventually(withdrawn, message="the follower's copy is withdrawn")
