"""Tests for federation.client against loopback servers (tests/loopback.py): signed GETs, redirects, content checks,
limits, the SSRF guard, TLS and WebFinger. Its inbox POSTs are in tests/test_client_post.py."""

import asyncio

import pytest
from aiohttp import web
from loopback import AS2, AS2_LD, USER_AGENT, actor_stub, as2_response, dev_client, serve, verify_request
from nodes import make_certificates

from federation.client import Signer, outgoing_ssl_context, same_origin
from federation.fetch_errors import FetchError, Unreachable
from federation.keys import generate_key_pair
from federation.signatures import SignatureError, SignatureScheme


# ---------------------------------------------------------------- signed GET


@pytest.mark.parametrize("scheme", [SignatureScheme.CAVAGE, SignatureScheme.RFC9421])
async def test_signed_get_verifies_at_the_server(client, signer, key_pair, scheme):
    seen = {}

    async def actor(request):
        seen["scheme"] = verify_request(request, key_pair.public_pem)
        seen["accept"] = request.headers["Accept"]
        seen["user_agent"] = request.headers["User-Agent"]
        return as2_response(request)

    async with serve(web.get("/actor", actor)) as base:
        document = await client.fetch_json(f"{base}/actor?page=1", signer=signer, scheme=scheme)

    assert document["id"] == f"{base}/actor?page=1"
    assert seen["scheme"] is scheme
    assert seen["accept"].startswith("application/activity+json, application/ld+json; profile=")
    assert seen["user_agent"] == USER_AGENT


async def test_signature_made_with_another_key_does_not_verify(client, signer):
    other_key = generate_key_pair()
    outcome = {}

    async def actor(request):
        try:
            verify_request(request, other_key.public_pem)
        except SignatureError as error:
            outcome["error"] = error.reason
        return as2_response(request)

    async with serve(web.get("/actor", actor)) as base:
        await client.fetch_json(f"{base}/actor", signer=signer)
    assert "does not match" in outcome["error"]


async def test_unsigned_get_carries_no_signature(client):
    headers = {}

    async def actor(request):
        headers.update(request.headers)
        return as2_response(request)

    async with serve(web.get("/actor", actor)) as base:
        await client.fetch_json(f"{base}/actor", signer=None)
    assert "Signature" not in headers and "Signature-Input" not in headers


# ---------------------------------------------------------------- redirects


def redirect_chain(hops: int, key_pair, verified: list[str]):
    """Routes /hop/N redirecting to /hop/N+1 up to /hop/{hops}, which serves a document; every hop verifies."""

    async def hop(request):
        try:
            verify_request(request, key_pair.public_pem)
        except SignatureError as error:
            return web.Response(status=401, text=error.reason)
        verified.append(request.path)
        number = int(request.match_info["number"])
        if number < hops:
            raise web.HTTPFound(f"/hop/{number + 1}")
        return as2_response(request)

    return web.get("/hop/{number}", hop)


async def test_three_redirects_are_followed_and_each_hop_is_signed_afresh(client, signer, key_pair):
    verified = []
    async with serve(redirect_chain(3, key_pair, verified)) as base:
        document = await client.fetch_json(f"{base}/hop/0", signer=signer)
    assert verified == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]
    assert document["id"] == f"{base}/hop/3"


async def test_a_fourth_redirect_is_refused(client, signer, key_pair):
    verified = []
    async with serve(redirect_chain(4, key_pair, verified)) as base:
        with pytest.raises(FetchError, match="more than 3 redirects"):
            await client.fetch_json(f"{base}/hop/0", signer=signer)
    assert verified == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


async def test_every_redirect_target_is_checked(client):
    async def jump(request):
        raise web.HTTPFound(f"http://0x7f.1:{request.url.port}/actor")  # a disguised 127.0.0.1

    async with serve(web.get("/jump", jump), web.get("/actor", actor_stub)) as base:
        with pytest.raises(FetchError, match="numeric IPv4 form"):
            await client.fetch_json(f"{base}/jump", signer=None)


# ---------------------------------------------------------------- content checks


async def test_wrong_content_type_is_refused(client):
    async def page(request):
        return as2_response(request, content_type="text/html")

    async with serve(web.get("/page", page)) as base:
        with pytest.raises(FetchError, match="'text/html' is not ActivityStreams"):
            await client.fetch_json(f"{base}/page", signer=None)


async def test_ld_json_needs_the_activitystreams_profile(client):
    async def with_profile(request):
        return as2_response(request, content_type=AS2_LD)

    async def without_profile(request):
        return as2_response(request, content_type="application/ld+json")

    async with serve(web.get("/with", with_profile), web.get("/without", without_profile)) as base:
        assert (await client.fetch_json(f"{base}/with", signer=None))["id"] == f"{base}/with"
        with pytest.raises(FetchError, match="not ActivityStreams"):
            await client.fetch_json(f"{base}/without", signer=None)


async def test_json_that_is_not_an_object_is_refused(client):
    async def array(request):
        return web.Response(body=b"[1, 2]", content_type=AS2)

    async with serve(web.get("/array", array)) as base:
        with pytest.raises(FetchError, match="not an object"):
            await client.fetch_json(f"{base}/array", signer=None)


async def test_id_on_another_origin_is_refused(client):
    async def forged(request):
        return as2_response(request, {"id": "https://victim.example/users/alice", "type": "Person"})

    async with serve(web.get("/actor", forged)) as base:
        with pytest.raises(FetchError, match="another origin"):
            await client.fetch_json(f"{base}/actor", signer=None)


async def test_id_on_another_port_of_the_same_host_is_refused(client):
    async def forged(request):
        return as2_response(request, {"id": f"http://127.0.0.1:{request.url.port + 1}/actor"})

    async with serve(web.get("/actor", forged)) as base:
        with pytest.raises(FetchError, match="another origin"):
            await client.fetch_json(f"{base}/actor", signer=None)


def test_same_origin_compares_scheme_host_and_port():
    assert same_origin("https://a.example/x", "https://A.example:443/y#f")
    assert not same_origin("https://a.example/x", "http://a.example/x")
    assert not same_origin("https://a.example/x", "https://a.example:8443/x")
    assert not same_origin("https://a.example/x", "https://b.example/x")
    assert not same_origin("not a url", "not a url")


async def test_oversize_streamed_body_is_refused_without_reading_it_all():
    async def huge(request):
        response = web.StreamResponse(headers={"Content-Type": AS2})
        await response.prepare(request)
        for _ in range(32):  # 2 MB, then a stall: reading to the end would only end in a timeout
            await response.write(b" " * 65536)
        await asyncio.Event().wait()

    async with serve(web.get("/huge", huge)) as base:
        async with dev_client(total_timeout=10) as client:
            with pytest.raises(FetchError, match="response larger than 1 MB") as caught:
                await client.fetch_json(f"{base}/huge", signer=None)
    assert not isinstance(caught.value, Unreachable)


async def test_declared_oversize_body_is_refused_before_reading():
    async def declared(request):
        return web.Response(body=b" " * 300_000, content_type=AS2)

    async with serve(web.get("/big", declared)) as base:
        async with dev_client(max_body_bytes=200 * 1024) as client:
            with pytest.raises(FetchError, match=r"larger than 200 kB \(300000 bytes declared\)"):
                await client.fetch_json(f"{base}/big", signer=None)


@pytest.mark.parametrize("status, gone", [(410, True), (404, False), (500, False)])
async def test_error_statuses_become_fetch_errors(client, status, gone):
    async def answer(request):
        return web.Response(status=status, text="the reason")

    async with serve(web.get("/actor", answer)) as base:
        with pytest.raises(FetchError) as caught:
            await client.fetch_json(f"{base}/actor", signer=None)
    assert caught.value.status == status
    assert caught.value.gone is gone
    assert f"{status}" in caught.value.reason


# ---------------------------------------------------------------- the SSRF guard


async def test_private_address_is_refused_without_dev_and_reached_with_it():
    async with serve(web.get("/actor", actor_stub)) as base:
        async with dev_client(allow_private=False) as production:
            with pytest.raises(FetchError, match=r"127\.0\.0\.1 is loopback.*only allowed with --dev"):
                await production.fetch_json(f"{base}/actor", signer=None)
            result = await production.post(f"{base}/inbox", b"{}", signer=Signer("k", "unused"),
                                           scheme=SignatureScheme.CAVAGE)
            assert result.status is None and "only allowed with --dev" in result.error
        async with dev_client(allow_private=True) as development:
            assert (await development.fetch_json(f"{base}/actor", signer=None))["id"] == f"{base}/actor"


async def test_a_name_resolving_to_loopback_is_refused_without_dev():
    async with serve(web.get("/actor", actor_stub)) as base:
        url = base.replace("127.0.0.1", "localhost")
        async with dev_client(allow_private=False) as production:
            with pytest.raises(FetchError, match="localhost resolves to .* only allowed with --dev"):
                await production.fetch_json(url, signer=None)


async def test_plain_http_is_refused_without_dev():
    async with dev_client(allow_http=False) as client:
        with pytest.raises(FetchError, match="only allowed with --dev"):
            await client.fetch_json("http://127.0.0.1:1/actor", signer=None)


# ---------------------------------------------------------------- TLS


@pytest.fixture
def certificates(tmp_path):
    return make_certificates(tmp_path / "tls")


async def test_tls_server_trusted_through_ssl_cert_file(certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    async with serve(web.get("/actor", actor_stub), ssl_context=certificates.server_context()) as base:
        async with dev_client(allow_http=False) as client:
            assert (await client.fetch_json(f"{base}/actor", signer=None))["id"] == f"{base}/actor"


async def test_tls_server_with_an_unknown_ca_is_refused(certificates, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with serve(web.get("/actor", actor_stub), ssl_context=certificates.server_context()) as base:
        async with dev_client(allow_http=False) as client:
            with pytest.raises(Unreachable, match="certificate is not trusted.*SSL_CERT_FILE"):
                await client.fetch_json(f"{base}/actor", signer=None)


def test_ssl_cert_file_adds_to_the_system_store(certificates, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    system_only = outgoing_ssl_context().cert_store_stats()["x509_ca"]
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    combined = outgoing_ssl_context().cert_store_stats()["x509_ca"]
    assert system_only > 0
    assert combined == system_only + 1


def test_unreadable_ssl_cert_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="SSL_CERT_FILE names .*missing.pem"):
        outgoing_ssl_context()


# ---------------------------------------------------------------- timeouts and misuse


async def test_fetch_timeout_is_a_fetch_error(signer):
    async def slow(request):
        await asyncio.sleep(3)
        return as2_response(request)

    async with serve(web.get("/actor", slow)) as base:
        async with dev_client(total_timeout=0.3) as client:
            with pytest.raises(Unreachable, match="timed out"):
                await client.fetch_json(f"{base}/actor", signer=signer)


async def test_client_must_be_started(signer):
    with pytest.raises(RuntimeError, match="not started"):
        await dev_client().fetch_json("http://127.0.0.1:1/actor", signer=None)


# ---------------------------------------------------------------- WebFinger


def webfinger_route(links: list[dict], *, status: int = 200):
    async def webfinger(request):
        expected = f"acct:alice@{request.host}"
        if request.query.get("resource") != expected:
            return web.Response(status=404, text=f"unknown resource {request.query.get('resource')}")
        return web.json_response({"subject": expected, "links": links}, status=status,
                                 content_type="application/jrd+json")

    return web.get("/.well-known/webfinger", webfinger)


ACTOR_LINKS = [
    {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://x.example/@alice"},
    {"rel": "self", "type": AS2, "href": "https://x.example/users/alice"},
]


@pytest.mark.parametrize("prefix", ["@", ""])
async def test_webfinger_finds_the_actor_falling_back_to_http_in_dev(client, prefix):
    async with serve(webfinger_route(ACTOR_LINKS)) as base:
        host = base.removeprefix("http://")
        assert await client.webfinger(f"{prefix}alice@{host}") == "https://x.example/users/alice"


async def test_webfinger_accepts_the_ld_json_self_link(client):
    links = [{"rel": "self", "type": AS2_LD, "href": "https://x.example/u/alice"}]
    async with serve(webfinger_route(links)) as base:
        assert await client.webfinger(f"alice@{base.removeprefix('http://')}") == "https://x.example/u/alice"


async def test_webfinger_without_an_activitypub_link_fails(client):
    links = [{"rel": "self", "type": "text/html", "href": "https://x.example/@alice"}]
    async with serve(webfinger_route(links)) as base:
        with pytest.raises(FetchError, match="no ActivityPub actor link"):
            await client.webfinger(f"alice@{base.removeprefix('http://')}")


async def test_webfinger_for_an_unknown_user_fails_with_the_status(client):
    async with serve(webfinger_route(ACTOR_LINKS)) as base:
        with pytest.raises(FetchError, match="HTTP 404") as caught:
            await client.webfinger(f"bob@{base.removeprefix('http://')}")
    assert caught.value.status == 404


async def test_webfinger_does_not_fall_back_to_http_without_dev():
    async with serve(webfinger_route(ACTOR_LINKS)) as base:
        async with dev_client(allow_http=False) as client:
            with pytest.raises(Unreachable, match=r"GET https://127\.0\.0\.1.*TLS"):
                await client.webfinger(f"alice@{base.removeprefix('http://')}")


@pytest.mark.parametrize("handle", ["alice", "@alice", "alice@", "@a@b@c", "al ice@host", "alice@host/path"])
async def test_webfinger_refuses_malformed_handles(client, handle):
    with pytest.raises(FetchError, match="not a handle"):
        await client.webfinger(handle)
