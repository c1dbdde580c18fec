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
    assert created.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert (await keys.private_key_pem(db, "the_preston_larder")).startswith("-----BEGIN PRIVATE KEY-----")
    assert await actors.username_for_external_id(db, "CUK:R024776") == "the_preston_larder"


async def test_each_actor_has_its_own_key(db):
    first = await actors.create(db, preston_larder())
    second = await actors.create(db, preston_hub())
    assert first.public_key_pem != second.public_key_pem


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
    with pytest.raises(ProfileError, match="actor_type"):
        await actors.update_profile(db, preston_larder(actor_type="Group"))
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
    second = await actors.ensure_instance_actor(db, "Node")
    assert first.public_key_pem == second.public_key_pem
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
