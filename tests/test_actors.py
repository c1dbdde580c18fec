"""The actors store: creation with keys, updates, removal, the instance actor, and nothing written on bad input."""

import pytest

from federation import keys
from node.store import actors
from nodes import preston_hub, preston_larder
from vocab.profile import ProfileError



async def test_create_stores_profile_and_a_key(db):
    created = await actors.create(db, preston_larder(), external_id="CUK:R024776", now=1000)
    assert created.profile == preston_larder()
    assert created.created_at == 1000 and not created.is_deleted
    assert (await actors.public_key_pem(db, "the_preston_larder")).startswith("-----BEGIN PUBLIC KEY-----")
    assert (await keys.private_key_pem(db, "the_preston_larder")).startswith("-----BEGIN PRIVATE KEY-----")
    assert await actors.username_for_external_id(db, "CUK:R024776") == "the_preston_larder"


async def test_each_actor_has_its_own_key(db):
    await actors.create(db, preston_larder())
    await actors.create(db, preston_hub())
    assert await actors.public_key_pem(db, "the_preston_larder") != await actors.public_key_pem(db, "preston")


async def test_invalid_profile_writes_nothing(db):
    with pytest.raises(ProfileError, match="website"):
        await actors.create(db, preston_larder(website="nope"))
    assert await db.scalar("SELECT COUNT(*) FROM actors") == 0
    assert await db.scalar("SELECT COUNT(*) FROM keys") == 0


async def test_usernames_are_unique_and_never_reused(db):
    await actors.create(db, preston_larder())
    with pytest.raises(ProfileError, match="already taken"):
        await actors.create(db, preston_larder(name="Another"))
    await actors.remove(db, "the_preston_larder")
    with pytest.raises(ProfileError, match="already taken"):
        await actors.create(db, preston_larder())


async def test_update_profile(db):
    await actors.create(db, preston_larder())
    updated = await actors.update_profile(db, preston_larder(website="https://larder.example"), now=2000)
    assert updated.profile.website == "https://larder.example" and updated.updated_at == 2000
    with pytest.raises(ProfileError):
        await actors.update_profile(db, preston_larder(postcode="nowhere"))
    assert (await actors.get(db, "the_preston_larder")).profile.website == "https://larder.example"


async def test_remove_marks_deleted_and_hides_from_lists(db):
    await actors.create(db, preston_larder())
    await actors.create(db, preston_hub())
    await actors.remove(db, "the_preston_larder", now=3000)
    removed = await actors.get(db, "the_preston_larder")
    assert removed.is_deleted and removed.deleted_at == 3000
    assert [actor.username for actor in await actors.list_active(db)] == ["preston"]
    assert await actors.count_active(db) == {"Group": 1}
    with pytest.raises(actors.ActorNotFound):
        await actors.require(db, "the_preston_larder")
    with pytest.raises(actors.ActorNotFound):
        await actors.remove(db, "nobody")


async def test_instance_actor_is_created_once_and_not_listed(db):
    first = await actors.ensure_instance_actor(db, "Node")
    key = await actors.public_key_pem(db, actors.INSTANCE_USERNAME)
    second = await actors.ensure_instance_actor(db, "Node")
    assert await actors.public_key_pem(db, actors.INSTANCE_USERNAME) == key and second == first
    assert first.profile.actor_type == "Application"
    assert await actors.list_active(db) == []
    assert await actors.count_active(db) == {}


async def test_lookup_is_case_insensitive(db):
    await actors.create(db, preston_hub())
    assert (await actors.get(db, "Preston")).username == "preston"


async def test_directory_lists_names_without_loading_profiles(db):
    await actors.ensure_instance_actor(db, "Node")
    await actors.create(db, preston_larder())
    await actors.create(db, preston_hub())
    await actors.create(db, preston_hub(username="gone", name="Gone"))
    await actors.remove(db, "gone")
    entries = await actors.directory(db)
    assert [(entry.username, entry.actor_type, entry.locality, entry.has_cuk_identifier) for entry in entries] == [
        ("preston", "Group", "Preston", False),
        ("the_preston_larder", "Organization", "Preston", True),
    ]


async def test_the_instance_actor_cannot_be_removed(db):
    await actors.ensure_instance_actor(db, "Node")
    with pytest.raises(actors.ActorNotFound, match="instance actor"):
        await actors.remove(db, actors.INSTANCE_USERNAME)


async def test_an_actor_made_without_a_key_gets_one_on_first_need_and_keeps_it(db):
    async with db.transaction() as connection:
        await actors.create_many_in(connection, [(preston_larder(), "CUK:R024776")], 1000)
    assert await db.scalar("SELECT COUNT(*) FROM keys") == 0
    public = await actors.public_key_pem(db, "the_preston_larder")
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    assert keys.public_pem_of(await keys.private_key_pem(db, "the_preston_larder")) == public
    assert await actors.public_key_pem(db, "The_Preston_Larder") == public
    assert await db.scalar("SELECT COUNT(*) FROM keys") == 1


async def test_concurrent_first_readers_of_a_key_all_get_the_one_kept(db):
    import asyncio

    async with db.transaction() as connection:
        await actors.create_many_in(connection, [(preston_larder(), "CUK:R024776")], 1000)
    found = await asyncio.gather(*(actors.public_key_pem(db, "the_preston_larder") for _ in range(4)),
                                 keys.private_key_pem(db, "the_preston_larder"))
    assert len(set(found[:4])) == 1 and keys.public_pem_of(found[4]) == found[0]
    assert await db.scalar("SELECT COUNT(*) FROM keys WHERE retired_at IS NULL") == 1


async def test_no_key_is_made_for_an_owner_that_is_not_an_actor(db):
    with pytest.raises(keys.NoKey):
        await keys.private_key_pem(db, "nobody")
    assert await db.scalar("SELECT COUNT(*) FROM keys") == 0


async def test_type_changes_only_while_nothing_is_published_or_followed(db):
    await actors.create(db, preston_larder())
    changed = await actors.update_profile(db, preston_larder(actor_type="Group"))
    assert changed.profile.actor_type == "Group"
    assert await db.scalar("SELECT actor_type FROM actors WHERE username = 'the_preston_larder'") == "Group"
    await db.write("INSERT INTO followers (username, actor_iri, state, created_at) "
                   "VALUES ('the_preston_larder', 'https://social.example/users/ann', 'accepted', 0)")
    with pytest.raises(ProfileError, match="1 follower.*type they first saw"):
        await actors.update_profile(db, preston_larder(actor_type="Organization"))
    assert (await actors.get(db, "the_preston_larder")).profile.actor_type == "Group"
