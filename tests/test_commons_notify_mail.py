"""Notices by e-mail (node.commons.notify_mail) through a real SMTP server (aiosmtpd) on a loopback port: the message
arrives once with its headers and the digest as plain text; STARTTLS and a login work; a server that is down is
tried again later (the same Message-ID) and then delivered; a refused recipient fails for good; what fails is
visible with its reason."""

import asyncio
import email.utils

import pytest
from notice_peers import MEALS, Clock, council, notifier_of, offers, smtp_server

from node import config as node_config, runtime
from node.commons import notify
from node.commons.notify import GIVE_UP_SECONDS, QUIET_SECONDS
from node.commons.notify_digest import Digest
from node.config import MailConfig
from nodes import create_node, eventually, make_certificates, preston_larder

DOMAIN = "127.0.0.1:8483"
TO = "meals@council.example"


async def a_node(tmp_path, mail: MailConfig):
    return await create_node(tmp_path / "node", DOMAIN, mail=mail, node_name="Preston commons",
                             profiles=[council(notify_email=TO), preston_larder()])


def plain(port: int, **changes) -> MailConfig:
    return MailConfig(**{"host": "127.0.0.1", "port": port, "sender": "commons@coop.example", "starttls": False,
                         **changes})


async def a_digest_due(node, clock: Clock):
    """A need, two matching offers, and the quiet period over: the notifier's next step makes and sends it."""
    notifier = notifier_of(node, clock)
    need = await node.proposals.add("preston_council", "need", MEALS)
    await offers(node, 2)
    await notifier.step()
    clock.advance(QUIET_SECONDS)
    return notifier, need


async def test_the_message_arrives_once_with_its_headers_and_the_digest(tmp_path):
    clock = Clock()
    with smtp_server() as (room, port):
        async with runtime.opened(await a_node(tmp_path, plain(port))) as node:
            notifier, need = await a_digest_due(node, clock)
            await notifier.step()
            await notifier.step()
            [(sender, recipients, message)] = room.received
            [notice] = await notify.notices(node.db)
            digest = Digest.from_json(await node.db.scalar("SELECT digest FROM notification_digests"))
    assert (sender, recipients) == ("commons@coop.example", [TO])
    assert message["From"] == "Preston commons <commons@coop.example>" and message["To"] == TO
    assert message["Subject"] == "2 possible matches for your need 'School meals for 40 pupils'"
    assert email.utils.parsedate_to_datetime(message["Date"]).timestamp() == clock.now
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@127.0.0.1>")
    assert message["Auto-Submitted"] == "auto-generated" and message.get_content_type() == "text/plain"
    body = message.get_content().replace("\r\n", "\n")
    assert body == digest.text() and body.startswith("Hello Preston City Council,")
    assert need in body and body.count("  * Offer \"Community catering") == 2 and "more:" not in body
    assert (notice.state, notice.attempts, notice.last_error, notice.channel) == ("sent", 1, None, "email")


async def test_starttls_and_a_login(tmp_path, monkeypatch):
    certificates = make_certificates(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    clock = Clock()
    login = ("commons", "correct horse")
    with smtp_server(tls_context=certificates.server_context(), login=login) as (room, port):
        config = await a_node(tmp_path, plain(port, starttls=True, username="commons", password="wrong"))
        async with runtime.opened(config) as node:
            notifier, _ = await a_digest_due(node, clock)
            await notifier.step()
            [notice] = await notify.pending_notices(node.db)
            assert "refused the login" in notice.last_error and "password under [mail]" in notice.last_error
        # the operator fixes node.toml and restarts: what waits is tried at once, not after its backoff
        path = config.data_dir / "node.toml"
        path.write_text(path.read_text().replace('password = "wrong"', 'password = "correct horse"'))
        async with runtime.opened(node_config.load(config.data_dir)) as node:
            running = asyncio.ensure_future(notifier_of(node, clock).run())
            try:
                await eventually(lambda: room.received, message="the notice is sent on start")
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
            assert [notice.state for notice in await notify.notices(node.db)] == ["sent"]
    assert room.logins == ["commons"] and len(room.received) == 1


async def test_a_server_that_is_down_is_tried_again_later(tmp_path):
    clock = Clock()
    with smtp_server() as (_, port):
        pass  # a port where nothing listens now
    async with runtime.opened(await a_node(tmp_path, plain(port))) as node:
        notifier, _ = await a_digest_due(node, clock)
        await notifier.step()
        [notice] = await notify.pending_notices(node.db)
        assert notice.attempts == 1 and f"cannot reach the SMTP server 127.0.0.1:{port}" in notice.last_error
        first_id = await node.db.scalar("SELECT message_id FROM notification_sends")
        retry_in = notice.next_attempt_at - clock.now
        assert 60 <= retry_in <= 75  # federation.delivery's backoff: a minute, with jitter
        with smtp_server(port) as (room, _):
            clock.advance(retry_in - 1)
            await notifier.step()
            assert room.received == []
            clock.advance(1)
            await notifier.step()
            await notifier.step()
            [message] = room.messages()
        assert message["Message-ID"] == first_id
        [notice] = await notify.notices(node.db)
        assert (notice.state, notice.attempts) == ("sent", 2) and await notify.pending_notices(node.db) == []


async def test_a_refused_recipient_fails_for_good(tmp_path):
    clock = Clock()
    with smtp_server() as (room, port):
        room.refuse.add(TO)
        async with runtime.opened(await a_node(tmp_path, plain(port))) as node:
            notifier, _ = await a_digest_due(node, clock)
            await notifier.step()
            clock.advance(GIVE_UP_SECONDS)
            await notifier.step()
            [notice] = await notify.notices(node.db, state="failed")
    assert notice.attempts == 1 and "refused the recipient meals@council.example: 550" in notice.last_error
    assert room.received == []


async def test_without_a_mail_server_notices_wait_and_then_fail_visibly(tmp_path):
    clock = Clock()
    async with runtime.opened(await a_node(tmp_path, MailConfig())) as node:
        notifier, _ = await a_digest_due(node, clock)
        await notifier.step()
        [notice] = await notify.pending_notices(node.db)
        assert "no SMTP server is configured: set host (and from) under [mail]" in notice.last_error
        while await notify.pending_notices(node.db):
            clock.advance(8 * 3600)
            await notifier.step()
        [notice] = await notify.notices(node.db, state="failed")
        assert notice.created_at + GIVE_UP_SECONDS <= clock.now < notice.created_at + GIVE_UP_SECONDS + 8 * 3600


@pytest.mark.parametrize("recipient", ["ops@coop.example", "Ops.Team+matches@Coop.Example"])
async def test_the_digest_goes_to_the_address_the_profile_names(tmp_path, recipient):
    clock = Clock()
    with smtp_server() as (room, port):
        config = await create_node(tmp_path / "node", DOMAIN, mail=plain(port),
                                   profiles=[council(notify_email=recipient), preston_larder()])
        async with runtime.opened(config) as node:
            notifier, _ = await a_digest_due(node, clock)
            await notifier.step()
    assert [recipients for _, recipients, _ in room.received] == [[recipient]]
