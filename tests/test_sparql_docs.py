"""The example queries of docs/sparql.md, run against a node with data: each is answered, and finds what it says."""

import re
from pathlib import Path

import pytest

from node import runtime
from node.commons import embedded_store
from nodes import create_node, preston_hub, preston_larder

DOCS = Path(__file__).resolve().parents[1] / "docs" / "sparql.md"
PLACEHOLDER = "https://coop.example/objects/4f2c…"
MEALS = dict(title="School meals", cpv="55524000", quantity="1200", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31",
                area_latitude=53.645, area_longitude=-1.78, radius_km=40, area_name="Kirklees")


def examples() -> list[str]:
    return re.findall(r"```sparql\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


@pytest.fixture
async def node(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_store, "SNAPSHOT_SECONDS", 0)
    profiles = [preston_hub(), preston_larder(member_of=["http://127.0.0.1:8481/actors/preston"]),
                preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                               identifiers={})]
    config = await create_node(tmp_path / "node", "127.0.0.1:8481", profiles=profiles)
    async with runtime.opened(config) as opened:
        need = await opened.proposals.add("preston_council", "need", MEALS)
        await opened.proposals.add("the_preston_larder", "offer", CATERING)
        await opened.commons.gatherer.catch_up()
        yield opened, need


def test_the_docs_have_examples():
    assert len(examples()) == 6


@pytest.mark.parametrize("number", range(6))
async def test_each_example_is_answered(node, number):
    opened, need = node
    query = examples()[number].replace(PLACEHOLDER, need)
    answer = await opened.commons.sparql(query, [])
    text = answer.body.decode()
    expected = ["School meals", "Community catering", "The Preston Larder Limited", '"55"', "School meals",
                "1200"][number]
    assert expected in text, text[:500]
    if number == 2:  # the council is no co-op
        assert "Preston City Council" not in text
