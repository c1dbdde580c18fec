"""The data directory as one node's: a lock file held by the one `coopnode serve` that may run on it."""

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_FILENAME = "serve.lock"


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
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise AlreadyServing(f"another coopnode serve (process {holder}) is running on {data_dir}: one node "
                                 "serves a data directory; stop that one first") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


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
