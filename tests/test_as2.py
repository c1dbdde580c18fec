"""Tolerant AS2 readers: ids or objects, one or many, origins, and cheap depth checks on hostile input."""

from vocab.as2 import host_of, id_of, ids_of, nesting_depth, origin_of, types_of


def test_id_of_accepts_iris_and_objects():
    assert id_of("https://a.example/x") == "https://a.example/x"
    assert id_of({"id": "https://a.example/x", "type": "Note"}) == "https://a.example/x"
    assert id_of({"@id": "https://a.example/x"}) == "https://a.example/x"
    assert id_of({"type": "Note"}) is None and id_of(42) is None and id_of(None) is None


def test_ids_of_one_or_many():
    assert ids_of("https://a/x") == ["https://a/x"]
    assert ids_of(["https://a/x", {"id": "https://a/y"}, 5, None]) == ["https://a/x", "https://a/y"]


def test_types_of():
    assert types_of({"type": "Note"}) == ["Note"]
    assert types_of({"type": ["Note", "Proposal", 3]}) == ["Note", "Proposal"]
    assert types_of("https://a/x") == [] and types_of({"type": {"x": 1}}) == []


def test_origins_compare_scheme_host_and_port():
    assert origin_of("https://A.example:8443/x?y") == "https://a.example:8443"
    assert origin_of("https://a.example/x") != origin_of("http://a.example/x")
    assert host_of("https://a.example:8443/x") == "a.example:8443"


def test_host_of_drops_credentials_and_default_ports_and_lowercases():
    assert host_of("https://user:secret@A.Example/inbox") == "a.example"
    assert host_of("https://a.example:443/x") == "a.example" and host_of("http://a.example:80/x") == "a.example"
    assert host_of("http://a.example:443/x") == "a.example:443" and host_of("https://a.example:80/x") == "a.example:80"
    assert host_of("http://[::1]:8080/x") == "[::1]:8080" and host_of("https://[2001:DB8::1]:443/x") == "[2001:db8::1]"
    assert host_of("https://a.example:/x") == "a.example"
    assert host_of("not a url") == "" and host_of("http://[::1/x") == "" and host_of("https://a.example:port/") == ""


def test_nesting_depth_stops_early_on_deep_input():
    deep = current = {}
    for _ in range(100_000):
        current["a"] = {}
        current = current["a"]
    assert nesting_depth(deep, 32) == 33
    assert nesting_depth({"a": [1, {"b": 2}]}, 32) == 3
    assert nesting_depth("text", 32) == 0
