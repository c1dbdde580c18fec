"""Fedify (an independent ActivityPub implementation, installed from npm by this test) looks up and parses our actors."""

import asyncio
import json
import os
from pathlib import Path

import aiohttp
import fedify
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from fedify import INSTALL_DIR
from nodes import make_certificates, preston_hub, preston_larder, running_node

from node.store import actors
from node.store.database import Database

fedify_node = fedify.fedify_node  # the session fixture that installs Fedify

ACCEPT = "application/activity+json"


async def fedify_lookup(node: Path, ca_file: Path, *identifiers: str) -> dict[str, dict]:
    """Run lookup.mjs once for all identifiers; its JSON lines by identifier (stderr has Fedify's log)."""
    process = await asyncio.create_subprocess_exec(
        str(node), str(INSTALL_DIR / "lookup.mjs"), *identifiers,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)})
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        raise
    results = {line["identifier"]: line for line in map(json.loads, stdout.decode().splitlines())}
    assert process.returncode == 0 and set(results) == set(identifiers), (
        f"exit {process.returncode}\n{stdout.decode()}\n{stderr.decode()[-5000:]}")
    for result in results.values():
        result["log"] = stderr.decode()[-5000:]  # for assertion messages
    return results


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lookups(fedify_node, tmp_path_factory):
    """One node (hub, co-op, a removed co-op) over HTTPS; what we serve and what Fedify made of it, once."""
    directory = tmp_path_factory.mktemp("fedify")
    certificates = make_certificates(directory / "tls")
    profiles = lambda base: [preston_hub(), preston_larder(member_of=[f"{base}/actors/preston"]),
                             preston_hub(username="gone_coop", name="Gone Co-op")]
    async with running_node(directory / "node", profiles, tls=certificates) as node:
        db = await Database.open(node.config.database_path)
        try:
            await actors.remove(db, "gone_coop")
        finally:
            await db.close()
        served = {}
        connector = aiohttp.TCPConnector(ssl=certificates.client_context())
        async with aiohttp.ClientSession(connector=connector, headers={"Accept": ACCEPT}) as session:
            for path in ("actors/the_preston_larder", "actors/preston", "actor", "actors/gone_coop"):
                async with session.get(f"{node.base_url}/{path}") as response:
                    served[path] = (response.status, json.loads(await response.read()))
        assert served["actors/gone_coop"][0] == 410  # precondition: the node itself says it is gone
        identifiers = {
            "larder": f"@the_preston_larder@{node.domain}",
            "hub": f"{node.base_url}/actors/preston",
            "instance": f"{node.base_url}/actor",
            "removed by handle": f"@gone_coop@{node.domain}",
            "removed by URL": f"{node.base_url}/actors/gone_coop",
            "unknown": f"@nobody_here@{node.domain}",
        }
        parsed = await fedify_lookup(fedify_node, certificates.ca_file, *identifiers.values())
    return {"domain": node.domain, "base": node.base_url, "served": {k: v[1] for k, v in served.items()},
            **{name: parsed[identifier] for name, identifier in identifiers.items()}}


def spki_der(pem: str) -> bytes:
    return serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def assert_same_actor(parsed: dict, served: dict, fedify_class: str):
    """Fedify's reading of an actor equals what we served, field by field."""
    assert parsed.get("found"), parsed
    assert parsed["class"] == fedify_class and parsed["isActor"], parsed
    assert parsed["id"] == served["id"]
    for field in ("preferredUsername", "name", "summary", "url", "inbox", "outbox", "followers", "following",
                  "featured", "manuallyApprovesFollowers", "discoverable", "indexable"):
        assert parsed[field] == served.get(field), (field, parsed[field], served.get(field), parsed["log"])
    assert parsed["sharedInbox"] == served["endpoints"]["sharedInbox"]
    key = parsed["publicKey"]
    assert key and key["id"] == served["publicKey"]["id"] and key["owner"] == served["id"]
    assert key["cryptoKey"] and spki_der(key["pem"]) == spki_der(served["publicKey"]["publicKeyPem"])


def assert_webfinger_round_trip(parsed: dict, domain: str):
    """The handle Fedify derives, and the WebFinger answers it rests on (by actor id, and by acct: as Mastodon)."""
    handle = f"@{parsed['preferredUsername']}@{domain}"
    # Fedify 2.3.6 normalises the host with node:url's domainToUnicode(), which turns "localhost:PORT" into "",
    # so a node on a non-default port gets "@user@" whatever it serves.
    assert parsed["handle"] in (handle, f"@{parsed['preferredUsername']}@"), parsed["handle"]
    for answer in (parsed["webfingerById"], parsed["webfingerByAcct"]):
        assert answer is not None, parsed["log"]
        assert answer["subject"] == f"acct:{handle[1:]}"
        assert answer["self"] == [parsed["id"]]


def test_fedify_finds_coop_by_handle_as_organization(lookups):
    parsed, served = lookups["larder"], lookups["served"]["actors/the_preston_larder"]
    assert_same_actor(parsed, served, "Organization")
    assert parsed["id"] == f"{lookups['base']}/actors/the_preston_larder"
    assert_webfinger_round_trip(parsed, lookups["domain"])


def test_fedify_reads_coop_profile_fields(lookups):
    """Mastodon-style profile fields (interop.md A10) must reach Fedify as PropertyValue objects."""
    parsed, served = lookups["larder"], lookups["served"]["actors/the_preston_larder"]
    assert parsed["attachments"] == [{"type": "PropertyValue", "name": field["name"], "value": field["value"]}
                                     for field in served["attachment"]]
    assert any(field["name"] == "Website" and "larder.org.uk" in field["value"] for field in parsed["attachments"])


def test_fedify_finds_hub_by_url_as_group(lookups):
    parsed = lookups["hub"]
    assert_same_actor(parsed, lookups["served"]["actors/preston"], "Group")
    assert parsed["preferredUsername"] == "preston"
    assert_webfinger_round_trip(parsed, lookups["domain"])


def test_fedify_finds_instance_actor_as_application(lookups):
    parsed = lookups["instance"]
    assert_same_actor(parsed, lookups["served"]["actor"], "Application")
    assert parsed["id"] == f"{lookups['base']}/actor"
    assert parsed["preferredUsername"] == lookups["domain"]
    assert_webfinger_round_trip(parsed, lookups["domain"])


@pytest.mark.parametrize("name", ["removed by handle", "removed by URL", "unknown"])
def test_fedify_does_not_find_removed_or_unknown_actor(lookups, name):
    assert lookups[name]["found"] is False, lookups[name]
