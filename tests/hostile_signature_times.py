"""Generators of hostile inbox requests whose signature is wrong about time: an expired or future Date, a Date
that is no date, a request replayed (see hostile.py)."""

import random
from datetime import timedelta

from hostile_world import (DOES_NOT_MATCH, SIGNATURE_FAILED, Hostile, World, activity, as_body, case, cavage_headers,
                           signed_headers, token)

from federation.signatures.common import digest_header, http_date


def expired_date(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Dates past Mastodon's window: 5 minutes validity + 1 hour skew, so more than 65 minutes old."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        age = rng.choice((timedelta(minutes=66), timedelta(minutes=rng.randint(67, 719)), timedelta(hours=12),
                          timedelta(hours=12, seconds=1), timedelta(days=rng.randint(1, 3650))))
        if number % 4 == 3:  # hs2019 with (created) signed instead of Date
            created = int((world.now - age).timestamp())
            headers = cavage_headers(world, "alice", path, body, algorithm="hs2019", created=created,
                                     covered=("(request-target)", "(created)", "host", "digest", "content-type"))
            reason = SIGNATURE_FAILED + r"\(created\) is .* old"
        else:
            headers = signed_headers(world, "alice", path, body, now=world.now - age)
            reason = SIGNATURE_FAILED + r"Date is .* old \(at most 65 minutes allowed\)"
        cases.append(case("expired date", path, headers, body, {401}, reason, str(age)))
    # A signed (expires) in the past, even with a recent creation time.
    for number in range(max(1, count // 8)):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        created = int((world.now - timedelta(minutes=90)).timestamp())
        headers = cavage_headers(world, "alice", path, body, algorithm="hs2019", created=created,
                                 expires=created + 60 * rng.randint(1, 20),
                                 covered=("(request-target)", "(created)", "(expires)", "host", "digest"))
        cases.append(case("expired date", path, headers, body, {401}, SIGNATURE_FAILED + r"Signature expired"))
    return cases


def future_date(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        ahead = rng.choice((timedelta(minutes=61), timedelta(minutes=rng.randint(62, 1440)),
                            timedelta(days=rng.randint(1, 36500))))
        if number % 4 == 3:
            created = int((world.now + ahead).timestamp())
            headers = cavage_headers(world, "alice", path, body, algorithm="hs2019", created=created,
                                     covered=("(request-target)", "(created)", "host", "digest"))
            reason = SIGNATURE_FAILED + r"\(created\) is .* in the future"
        else:
            headers = signed_headers(world, "alice", path, body, now=world.now + ahead)
            reason = SIGNATURE_FAILED + r"Date is .* in the future"
        cases.append(case("future date", path, headers, body, {401}, reason, str(ahead)))
    return cases


def unreadable_date(world: World, rng: random.Random, count: int) -> list[Hostile]:
    dates = ("yesterday", "0", "1717400000", "2025-06-03T10:00:00Z", "Tue, 32 Jun 2025 10:00:00 GMT",
             "Tue, 03 Foo 2025 10:00:00 GMT", "Tue, 03 Jun 2025 25:61:61 GMT", "-", "Tue, 03 Jun", "GMT",
             "Mon, 01 Jan 10000 00:00:00 GMT", "Tue, 03 Jun 2025 10:00:00 +9999", "~" * 20, "𝟘" * 3)
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        date = dates[number % len(dates)] + ("" if number < len(dates) else " " * (number // len(dates)))
        headers = cavage_headers(world, "alice", path, body, date=date,
                                 covered=("(request-target)", "host", "date", "digest", "content-type"))
        cases.append(case("unreadable date", path, headers, body, {401},
                          SIGNATURE_FAILED + r"Date header is not an HTTP date", repr(date)))
    return cases


def replayed(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """A request validly signed by alice, captured and sent again changed: the signature must not carry over."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        original = activity(world, rng)
        body = as_body(original)
        headers = signed_headers(world, "alice", path, body)
        variant = number % 6
        if variant == 0:  # another body under the captured headers
            body = as_body(activity(world, rng))
            reason = SIGNATURE_FAILED + r"Digest does not match the body$"
        elif variant == 1:  # the same request to another inbox
            path = rng.choice([other for other in world.inbox_paths if other != path])
            reason = DOES_NOT_MATCH
        elif variant == 2:  # another body with a fresh, but unsigned, Digest
            body = as_body({**original, "type": "Block", "object": world.local_actor(rng)})
            headers["Digest"] = digest_header(body)
            reason = DOES_NOT_MATCH
        elif variant == 3:  # a fresher Date pasted onto an old signature
            headers = signed_headers(world, "alice", path, body, now=world.now - timedelta(hours=3))
            headers["Date"] = http_date(world.now)
            reason = DOES_NOT_MATCH
        elif variant == 4:  # signed with a query string, sent without it (the reverse is tolerated, as Mastodon)
            headers = signed_headers(world, "alice", path + rng.choice(("?x=1", "?page=true", "?" + token(rng))),
                                     body)
            reason = DOES_NOT_MATCH
        else:  # captured for another Host
            headers = signed_headers(world, "alice", path, body, host=rng.choice(
                ("127.0.0.1", "localhost:" + world.node_host.rsplit(":", 1)[1], "coop.example", "127.0.0.1:1")))
            headers["Host"] = world.node_host
            reason = DOES_NOT_MATCH
        cases.append(case("replayed", path, headers, body, {401}, reason, f"variant {variant}"))
    return cases
