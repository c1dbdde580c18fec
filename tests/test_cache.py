"""Tests for node.cache: render once, LRU eviction, and dropping entries when this process or another
connection commits."""

import pytest

from node.web.cache import RenderCache, Rendered
from node.config import DATABASE_FILENAME
from node.store.database import Database


class Renderer:
    """A render function per key that counts its calls and says which call produced the body."""

    def __init__(self):
        self.calls: list[str] = []

    def __call__(self, name: str):
        async def render() -> Rendered:
            self.calls.append(name)
            return Rendered(body=f"{name} #{self.calls.count(name)}".encode(), content_type="text/plain")
        return render


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path):
    return tmp_path / DATABASE_FILENAME


@pytest.fixture
async def db(path):
    database = await Database.open(path)
    yield database
    await database.close()


async def commit_from_another_connection(path, username: str) -> None:
    other = await Database.open(path)
    try:
        async with other.transaction() as connection:
            await connection.execute(
                "INSERT INTO actors (username, actor_type, profile_json, created_at, updated_at) "
                "VALUES (?, 'Organization', '{}', 0, 0)", (username,))
    finally:
        await other.close()


async def test_renders_once_and_serves_the_cached_copy(db):
    cache, render = RenderCache(db), Renderer()
    first = await cache.get_or_render(("actor", "larder"), render("larder"))
    second = await cache.get_or_render(("actor", "larder"), render("larder"))
    assert first.body == second.body == b"larder #1"
    assert second is first
    assert render.calls == ["larder"]


async def test_different_keys_render_separately(db):
    cache, render = RenderCache(db), Renderer()
    assert (await cache.get_or_render(("a",), render("a"))).body == b"a #1"
    assert (await cache.get_or_render(("b",), render("b"))).body == b"b #1"
    assert render.calls == ["a", "b"]


async def test_least_recently_used_entry_is_evicted_at_max_entries(db):
    cache, render = RenderCache(db, max_entries=2), Renderer()
    await cache.get_or_render(("a",), render("a"))
    await cache.get_or_render(("b",), render("b"))
    await cache.get_or_render(("a",), render("a"))  # a is now the most recently used
    await cache.get_or_render(("c",), render("c"))  # evicts b
    assert render.calls == ["a", "b", "c"]
    assert (await cache.get_or_render(("a",), render("a"))).body == b"a #1"
    assert (await cache.get_or_render(("b",), render("b"))).body == b"b #2"
    assert render.calls == ["a", "b", "c", "b"]


async def test_another_connections_commit_clears_only_after_recheck_seconds(db, path):
    clock = FakeClock()
    cache, render = RenderCache(db, recheck_seconds=5.0, clock=clock), Renderer()
    await cache.get_or_render(("home",), render("home"))
    await commit_from_another_connection(path, "larder")

    clock.now += 4.9
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #1"
    assert render.calls == ["home"]

    clock.now += 0.1  # 5.0 seconds since the last check
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #2"
    assert render.calls == ["home", "home"]


async def test_this_processs_own_commit_clears_at_once(db):
    clock = FakeClock()
    cache, render = RenderCache(db, recheck_seconds=5.0, clock=clock), Renderer()
    await cache.get_or_render(("home",), render("home"))
    await db.write("INSERT INTO actors (username, actor_type, profile_json, created_at, updated_at) "
                   "VALUES ('larder', 'Organization', '{}', 0, 0)")
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #2"
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #2"


async def test_without_a_change_the_recheck_keeps_the_entries(db):
    clock = FakeClock()
    cache, render = RenderCache(db, recheck_seconds=0.5, clock=clock), Renderer()
    await cache.get_or_render(("home",), render("home"))
    clock.now += 60
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #1"
    assert render.calls == ["home"]


async def test_the_recheck_interval_restarts_at_each_check(db, path):
    clock = FakeClock()
    cache, render = RenderCache(db, recheck_seconds=5.0, clock=clock), Renderer()
    await cache.get_or_render(("home",), render("home"))
    clock.now += 6
    await cache.get_or_render(("home",), render("home"))  # checks now: nothing changed
    await commit_from_another_connection(path, "larder")
    clock.now += 4
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #1"
    clock.now += 1
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #2"


async def test_clear_drops_every_entry(db):
    cache, render = RenderCache(db), Renderer()
    await cache.get_or_render(("a",), render("a"))
    await cache.get_or_render(("b",), render("b"))
    cache.clear()
    assert (await cache.get_or_render(("a",), render("a"))).body == b"a #2"
    assert (await cache.get_or_render(("b",), render("b"))).body == b"b #2"


async def test_a_failed_render_is_not_cached(db):
    cache, render = RenderCache(db), Renderer()

    async def broken() -> Rendered:
        raise RuntimeError("template error")

    with pytest.raises(RuntimeError):
        await cache.get_or_render(("home",), broken)
    assert (await cache.get_or_render(("home",), render("home"))).body == b"home #1"
