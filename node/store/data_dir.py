"""The data directory as one node's: a lock file held by the one `coopnode serve` that may run on it, and its
permissions (the database holds every actor's private key: the directory 0700, the files 0600)."""

import fcntl
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_FILENAME = "serve.lock"
PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


class AlreadyServing(Exception):
    """Another process serves this data directory; the message says which and what to do."""


@contextmanager
def serve_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's serve lock until the block ends; AlreadyServing if another process holds it."""
    path = data_dir / LOCK_FILENAME
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyServing(already_serving(data_dir, os.pread(descriptor, 32, 0))) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def already_serving(data_dir: Path, holder: bytes | None = None) -> str:
    """What to tell someone who starts a second `serve` on a data directory."""
    if holder is None:
        try:
            holder = (data_dir / LOCK_FILENAME).read_bytes()[:32]
        except OSError:
            holder = b""
    pid = holder.decode("ascii", "replace").strip()
    who = f"process {pid}" if pid.isdigit() else "another process"
    return (f"{data_dir} is already served by {who}: one coopnode serve per data directory, since two would "
            "share one database and deliver everything twice. Stop that one first (the CLI commands work "
            "beside it), or give this one another node's --data")


def make_private(path: Path) -> None:
    """Only the owner may read or enter it: 0700 for a directory, 0600 for a file."""
    os.chmod(path, PRIVATE_DIRECTORY if path.is_dir() else PRIVATE_FILE)


def looser_than_private(data_dir: Path, filenames: tuple[str, ...]) -> list[str]:
    """One line per path of the node (the directory, then the named files that exist) that others may read."""
    found = []
    for path in (data_dir, *(data_dir / name for name in filenames)):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wanted = PRIVATE_DIRECTORY if path.is_dir() else PRIVATE_FILE
            found.append(f"{path} is {mode:04o}: others on this machine can read the actors' private keys; "
                         f"run: chmod {wanted:o} {path}")
    return found


def is_served(data_dir: Path) -> bool:
    """Whether a `coopnode serve` holds the data directory's lock right now."""
    try:
        descriptor = os.open(data_dir / LOCK_FILENAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False
