"""Child processes for the benchmarks: spawning, always killing, readiness polling, CPU and memory readings."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def repository_root() -> Path:
    return Path(__file__).resolve().parent.parent


def coopnode_command() -> list[str]:
    """The `coopnode` console script beside this interpreter (the venv's), else `python -m node`."""
    script = Path(sys.executable).with_name("coopnode")
    return [str(script)] if script.exists() else [sys.executable, "-m", "node"]


class Processes:
    """Owns every child it starts; on exit (normal or error) each one's process group is terminated, then killed."""

    def __init__(self, log_dir: Path):
        self._log_dir = log_dir
        self._children: list[subprocess.Popen] = []

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc_info) -> None:
        for child in reversed(list(self._children)):  # stop() removes from the list
            self.stop(child)

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with open(self._log_dir / f"{name}.log", "ab") as log:  # the child keeps its own copy of the descriptor
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=repository_root())
        child.bench_name = name
        self._children.append(child)
        return child

    def stop(self, child: subprocess.Popen, timeout: float = 5.0) -> None:
        if child.poll() is None:
            _signal_group(child, signal.SIGTERM)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait(timeout)
        if child in self._children:
            self._children.remove(child)

    def log_tail(self, child: subprocess.Popen, lines: int = 15) -> str:
        path = self._log_dir / f"{child.bench_name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def get(port: int, target: str, headers: dict | None = None, timeout: float = 5.0):
    """One GET on 127.0.0.1: (status, headers as a list of pairs, body)."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def wait_for_200(child: subprocess.Popen, port: int, target: str, deadline_seconds: float) -> float:
    """Poll until `target` answers 200; the monotonic time it did. Fails if the child exits or time runs out."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"{child.bench_name} exited with code {child.returncode} before answering")
        try:
            status, _headers, _body = get(port, target, timeout=1.0)
            if status == 200:
                return time.monotonic()
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{child.bench_name} did not answer 200 on {target} within {deadline_seconds:.0f} s")


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """cpu_seconds of a process and of its live children (the node's signing process), and of those it reaped."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    ticks = sum(int(fields[index]) for index in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            child = _stat_fields(stat)
        except OSError:  # ended meanwhile
            continue
        if int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc/PID/stat after the command name (which may hold spaces): state is [0], ppid [1]."""
    return stat.read_text().rsplit(")", 1)[1].split()
