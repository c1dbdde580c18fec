"""What `serve` and every command check of the data directory (issue 13): one serving process per directory, the
domain the database was made for, private permissions, and a read-only directory that can still be read."""

import shutil
import socket
import subprocess

import pytest
from processes import coopnode, free_port, run, run_coopnode, stop, wait_for_200

from node import config as node_config, runtime
from node.store import node_identity


@pytest.fixture
def data(tmp_path, capsys):
    directory, port = tmp_path / "node", free_port()
    code, _, err = run(capsys, "--data", directory, "init", "--domain", f"127.0.0.1:{port}", "--dev",
                       "--username", "preston", "--name", "Preston", "--type", "group")
    assert code == 0, err
    return directory


def test_a_second_serve_on_the_same_data_directory_is_refused_whatever_its_port(data):
    config = node_config.load(data)
    first = coopnode("--data", data, "serve")
    try:
        wait_for_200(f"{config.base_url}/healthz", first)
        second = run_coopnode("--data", data, "serve", "--port", str(free_port()), timeout=60)
        assert second.returncode == 1
        assert f"is already served by process {first.pid}" in second.stderr
        assert "one coopnode serve per data directory" in second.stderr and "--port" not in second.stderr
        assert "coopnode: serving" not in second.stderr  # refused before it claims to serve
        assert run_coopnode("--data", data, "actor", "list").returncode == 0  # the CLI still works beside it
        wait_for_200(f"{config.base_url}/healthz", first)  # and the first node still serves
    finally:
        stop(first)
    third = coopnode("--data", data, "serve")  # once the first stopped, the directory is free again
    try:
        wait_for_200(f"{config.base_url}/healthz", third)
    finally:
        stop(third)


def test_a_port_taken_by_another_program_is_not_blamed_on_another_node(data):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        served = run_coopnode("--data", data, "serve", "--port", taken.getsockname()[1], timeout=60)
    code, err = served.returncode, served.stderr
    assert code == 1 and "already in use by another program" in err and "serves this data directory" in err


def test_a_changed_domain_is_refused_with_the_reason(data, capsys):
    toml = data / "node.toml"
    old = node_config.load(data).domain
    toml.write_text(toml.read_text().replace(old, "elsewhere.example"))
    code, _, err = run(capsys, "--data", data, "actor", "list")
    assert code == 1
    assert f"this node's database was made for '{old}'" in err and f'Put domain = "{old}" back' in err
    code, _, err = run(capsys, "--data", data, "serve")
    assert code == 1 and "made for" in err and "coopnode: serving" not in err


async def test_a_database_made_before_the_check_adopts_its_domain_once(data):
    config = node_config.load(data)
    async with runtime.opened(config) as node:
        await node.db.write("DELETE FROM node_identity")  # as migration 010 leaves a database made before it
    async with runtime.opened(config) as node:
        assert await node_identity.recorded_domain(node.db) == config.domain
    with pytest.raises(node_identity.DomainChanged):
        async with runtime.opened(node_config.NodeConfig(data, "other.example", scheme="http", dev=True)):
            pass


def test_looser_permissions_are_warned_about_at_start(data):
    config = node_config.load(data)
    data.chmod(0o755)
    (data / "coopnode.sqlite3").chmod(0o644)
    node = coopnode("--data", data, "serve")
    try:
        wait_for_200(f"{config.base_url}/healthz", node)
    finally:
        err = stop(node)
    assert f"warning: {data} is 0755: others on this machine can read the actors' private keys; run: chmod 700" in err
    assert "coopnode.sqlite3 is 0644" in err and "chmod 600" in err


@pytest.fixture
def read_only(data):
    """The data directory and its files made immutable (chattr +i: even root cannot write them)."""
    paths = [data, *data.iterdir()]
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", *map(str, paths)],
                                                          capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield data
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_data_directory_can_still_be_read(read_only, capsys):
    code, out, err = run(capsys, "--data", read_only, "actor", "list")
    assert code == 0 and "preston" in out, err
    code, _, err = run(capsys, "--data", read_only, "serve")
    assert code == 1 and "cannot be written by this user" in err and "coopnode: serving" not in err
