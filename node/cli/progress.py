"""A long command's progress on stderr: a tqdm bar on a terminal, and plain lines a few seconds apart when stderr
is a file, a pipe or a service's log (where a bar would print nothing until the end)."""

import sys
import time
from typing import Callable, TextIO

LINE_EVERY_SECONDS = 5.0


class Progress:
    """Counts work done out of a total; `update(n)` after each piece, `close()` at the end."""

    def __init__(self, description: str, unit: str, total: int = 0, *, stream: TextIO | None = None,
                 every_seconds: float = LINE_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.description, self.unit, self.total, self.done = description, unit, total, 0
        self._stream = stream if stream is not None else sys.stderr
        self._every, self._clock = every_seconds, clock
        self._started = self._last_line = clock()
        self._bar = None
        if _is_terminal(self._stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=description, file=self._stream)

    def reset(self, total: int) -> None:
        self.total, self.done = total, 0
        if self._bar is not None:
            self._bar.reset(total=total)
        else:
            self._line(f"{self.description}: {total} {self.unit}(s) to do")

    def update(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._clock() - self._last_line >= self._every:
            self._line(self._status())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.done:
            self._line(self._status() + " - done")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_exception) -> None:
        self.close()

    def _status(self) -> str:
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        return (f"{self.description}: {self.done} of {self.total} {self.unit}(s){share}, "
                f"{self._clock() - self._started:.0f} s")

    def _line(self, text: str) -> None:
        self._last_line = self._clock()
        print(text, file=self._stream, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
