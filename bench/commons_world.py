"""The commons benchmark's simulated world: the national file's co-ops spread over many loopback hosts (the
"simulated nodes"), each an actor with a key, and the needs and offers they publish, as signed inbox POSTs."""

import json
import os
import random
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import signing

HOST_NETWORK = "127.78"  # 127.78.a.b: Linux routes all of 127.0.0.0/8 to loopback, each address a host
KEYS = 40  # key pairs, shared round-robin by the hosts (each actor still has its own key id and owner)
SIGNING_CHUNK = 500
# CPV codes weighted towards what anchor institutions and co-ops trade (food, catering, cleaning, care, print…)
TRADES = ("03221000", "03212100", "15810000", "15500000", "55524000", "55520000", "90910000", "90919200",
          "85310000", "85320000", "79810000", "22100000", "45000000", "50700000", "60100000", "77310000",
          "09310000", "39100000", "18100000", "80500000", "72200000", "98300000", "92300000", "33600000")


@dataclass(frozen=True)
class SimulatedActor:
    host: str  # 127.78.a.b
    name: str  # path name on its host
    display_name: str
    latitude: float
    longitude: float
    local_authority: str
    is_coop: bool
    key: int  # index into the key pairs

    def origin(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def iri(self, port: int) -> str:
        return f"{self.origin(port)}/users/{self.name}"


def hosts(count: int) -> list[str]:
    return [f"{HOST_NETWORK}.{number // 250}.{number % 250 + 1}" for number in range(count)]


def actors_from(csv_path: Path, host_count: int, limit: int | None = None) -> list[SimulatedActor]:
    """One actor per located co-op of the national file, dealt round-robin to `host_count` hosts."""
    from node.services.coops_import import profile_from_row, read_rows

    found, addresses = [], hosts(host_count)
    for _, row in read_rows(csv_path):
        try:
            _, profile = profile_from_row(row, [])
        except ValueError:
            continue
        if profile.latitude is None:
            continue
        number = len(found)
        found.append(SimulatedActor(addresses[number % host_count], f"coop{number}", profile.name,
                                    profile.latitude, profile.longitude, profile.local_authority,
                                    profile.is_cooperative, number % KEYS))
        if limit is not None and len(found) >= limit:
            break
    return found


def actor_document(actor: SimulatedActor, port: int, public_pem: str) -> dict:
    """What the host serves for the actor: a coopnode-like Organization with its place and key."""
    iri = actor.iri(port)
    document = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": iri, "type": "Organization", "preferredUsername": actor.name, "name": actor.display_name,
        "inbox": f"{iri}/inbox", "outbox": f"{iri}/outbox", "url": iri,
        "endpoints": {"sharedInbox": f"{actor.origin(port)}/inbox"},
        "publicKey": {"id": f"{iri}#main-key", "owner": iri, "publicKeyPem": public_pem},
        "location": {"type": "Place", "latitude": actor.latitude, "longitude": actor.longitude},
    }
    if actor.local_authority:
        document["localAuthority"] = f"http://statistics.data.gov.uk/id/statistical-geography/{actor.local_authority}"
    if actor.is_coop:
        document["organisationalStructure"] = \
            "https://lod.coop/essglobal/2.1/standard/organisational-structure/OS115"
    return document


def proposal_activity(actor: SimulatedActor, port: int, number: int, run: str, rng: random.Random,
                      now: datetime) -> bytes:
    """A Create of a realistic need or offer near the actor, from the actor (the node verifies and keeps it)."""
    from vocab.cpv import CpvList
    from vocab.proposal_builder import build
    from vocab.proposal_document import Publication, proposal_as2

    kind = "need" if rng.random() < 0.5 else "offer"
    code = rng.choice(TRADES)
    fields = {"title": f"{'Wanted' if kind == 'need' else 'Offered'}: {code} lot {number}", "cpv": code,
              "quantity": str(rng.choice((10, 40, 100, 400, 1200))), "unit": rng.choice(("one", "kg", "hour")),
              "starts": (now + timedelta(days=rng.randint(0, 30))).date().isoformat(),
              "ends": (now + timedelta(days=rng.randint(60, 365))).date().isoformat(),
              "area_latitude": round(actor.latitude + rng.uniform(-0.05, 0.05), 5),
              "area_longitude": round(actor.longitude + rng.uniform(-0.05, 0.05), 5),
              "radius_km": rng.choice((15, 30, 50))}
    proposal = build(kind, fields, CpvList.bundled(), now=now)
    iri = f"{actor.origin(port)}/proposals/{run}-{number}"
    publication = Publication(iri=iri, actor_iri=actor.iri(port), actor_name=actor.display_name,
                              followers_iri=f"{actor.iri(port)}/followers", page_url=iri, published=now)
    document = proposal_as2(proposal, publication, CpvList.bundled(), lambda tag: f"{actor.origin(port)}/tags/{tag}")
    activity = {"@context": document.pop("@context"), "id": f"{iri}/create", "type": "Create",
                "actor": actor.iri(port), "object": document, "to": document["to"], "cc": document["cc"]}
    return json.dumps(activity, separators=(",", ":")).encode()


def signed_posts(actors: list[SimulatedActor], keys: list[str], port: int, inbox_url: str, count: int,
                 path: Path) -> int:
    """`count` signed Create POSTs (raw HTTP/1.1), spread over the actors, written length-prefixed to `path`."""
    from bench.inbox_load import write_requests

    run = uuid.uuid4().hex[:8]
    chunks = [(start, min(start + SIGNING_CHUNK, count)) for start in range(0, count, SIGNING_CHUNK)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        batches = pool.map(_sign_chunk, *zip(*[(actors, keys, port, inbox_url, run, start, stop)
                                               for start, stop in chunks]))
        return write_requests(path, (request for batch in batches for request in batch))


def _sign_chunk(actors, keys, port, inbox_url, run, start, stop) -> list[bytes]:
    rng = random.Random(start)
    now = datetime.now(timezone.utc)
    loaded = {}
    requests = []
    for number in range(start, stop):
        actor = actors[number % len(actors)]
        if actor.key not in loaded:
            loaded[actor.key] = signing.load_private_key(keys[actor.key])
        body = proposal_activity(actor, port, number, run, rng, now)
        headers = signing.signed_headers(loaded[actor.key], f"{actor.iri(port)}#main-key", inbox_url, body, now)
        requests.append(signing.raw_post(inbox_url, headers, body))
    return requests
