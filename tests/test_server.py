"""`coopnode serve` on a real node: TLS termination, and clear errors when it cannot start."""

import json
import socket
import urllib.request

from nodes import make_certificates
from processes import coopnode, free_port, run_coopnode, stop, wait_for_200


def init_node(data, domain, *extra):
    result = run_coopnode("--data", data, "init", "--domain", domain, "--username", "preston", "--name",
                          "Preston Co-operative Commons", "--type", "group", *extra)
    assert result.returncode == 0, result.stderr


def test_serve_terminates_tls_itself(tmp_path):
    certificates = make_certificates(tmp_path / "tls")
    port = free_port()
    init_node(tmp_path / "node", f"localhost:{port}")
    process = coopnode("--data", tmp_path / "node", "serve", "--port", port,
                       "--tls-cert", certificates.cert_file, "--tls-key", certificates.key_file)
    try:
        context = certificates.client_context()
        wait_for_200(f"https://localhost:{port}/.well-known/nodeinfo", process, context=context)
        request = urllib.request.Request(f"https://localhost:{port}/actors/preston",
                                         headers={"Accept": "application/activity+json"})
        with urllib.request.urlopen(request, context=context) as response:
            actor = json.load(response)
        assert actor["id"] == f"https://localhost:{port}/actors/preston"
    finally:
        stop(process)


def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        init_node(tmp_path / "node", f"127.0.0.1:{port}", "--dev")
        result = run_coopnode("--data", tmp_path / "node", "serve", "--port", port, timeout=60)
    assert result.returncode == 1
    assert "already in use" in result.stderr and "Traceback" not in result.stderr


def test_tls_needs_both_files(tmp_path):
    init_node(tmp_path / "node", "coop.example")
    result = run_coopnode("--data", tmp_path / "node", "serve", "--tls-cert", tmp_path / "cert.pem", timeout=60)
    assert result.returncode == 1 and "both --tls-cert and --tls-key" in result.stderr


def test_unreadable_certificate_is_a_clear_error(tmp_path):
    init_node(tmp_path / "node", "coop.example")
    (tmp_path / "cert.pem").write_text("not a certificate")
    result = run_coopnode("--data", tmp_path / "node", "serve", "--tls-cert", tmp_path / "cert.pem",
                          "--tls-key", tmp_path / "cert.pem", timeout=60)
    assert result.returncode == 1 and "cannot load the TLS certificate" in result.stderr
    assert "Traceback" not in result.stderr


def test_http_node_needs_dev_mode(tmp_path):
    init_node(tmp_path / "node", "127.0.0.1:8080", "--dev")
    config = tmp_path / "node" / "node.toml"
    config.write_text(config.read_text().replace("dev = true", "dev = false"))
    result = run_coopnode("--data", tmp_path / "node", "serve", timeout=60)
    assert result.returncode == 1 and "plain http is for development only" in result.stderr
