"""Test support: a real Oxigraph SPARQL 1.1 server (PyPI package `oxigraph`), started on a loopback port."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from node.config import CommonsConfig


def oxigraph_command() -> str:
    """The `oxigraph` executable the test extras installed beside this Python."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if found is None:
        raise RuntimeError("the oxigraph server is not installed: pip install -e '.[test]'")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def oxigraph_server(directory: Path, *, timeout_seconds: int = 30):
    """An Oxigraph server with its data in `directory`, queried over the union of its graphs as the embedded store
    is; yields the [commons] settings that point a node at it."""
    port = free_port()
    process = subprocess.Popen(
        [oxigraph_command(), "serve", "--location", str(directory), "--bind", f"127.0.0.1:{port}",
         "--union-default-graph", "--timeout-s", str(timeout_seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/query?query=ASK%7B%7D", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"oxigraph did not start: {process.stderr.read().decode()[-500:]}")
                time.sleep(0.05)
        yield CommonsConfig(store="sparql", query_url=f"{base}/query", update_url=f"{base}/update",
                            graph_store_url=f"{base}/store")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
