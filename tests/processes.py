"""Test support: running the real `coopnode` command, in a subprocess (waiting for it to answer) or in-process."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from node.cli.main import main

REPOSITORY = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def coopnode(*arguments, **kwargs) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    environment.pop("COOPNODE_DATA", None)
    return subprocess.Popen([sys.executable, "-m", "node", *map(str, arguments)], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_coopnode(*arguments, timeout: float = 120) -> subprocess.CompletedProcess:
    process = coopnode(*arguments)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def wait_for_200(url: str, process: subprocess.Popen, timeout: float = 30, context=None) -> float:
    """Seconds until `url` answers 200; fails if the process exits first or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise AssertionError(f"coopnode exited with {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


def run(capsys, *argv) -> tuple[int, str, str]:
    """The CLI in-process, as its own process would run it: its own event loop, in a thread, so that async
    tests may call it too. Returns (exit code, stdout, stderr)."""
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(main, [str(arg) for arg in argv]).result()
    out, err = capsys.readouterr()
    return code, out, err


async def run_async(capsys, *argv) -> tuple[int, str, str]:
    """The CLI from an async test that serves nodes meanwhile: the test's event loop keeps running."""
    code = await asyncio.to_thread(main, [str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err
