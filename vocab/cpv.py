"""The CPV 2008 classification shipped with the package: codes, labels, hierarchy, IRIs and hashtags."""

import csv
import functools
import io
import re
from dataclasses import dataclass

from vocab.context import bundled_text

CPV_NAMESPACE = "http://data.europa.eu/cpv/cpv/"
CODE_PATTERN = re.compile(r"^(\d{8})(?:-(\d))?$")
# CPV divisions from 45 on are works and services; below that, goods.
FIRST_SERVICE_DIVISION = 45
HASHTAG_MAX_LENGTH = 30


@dataclass(frozen=True)
class CpvCode:
    code: str
    check_digit: str
    label: str
    level: int
    parent: str | None

    @property
    def division(self) -> str:
        return self.code[:2]

    @property
    def is_service(self) -> bool:
        return int(self.division) >= FIRST_SERVICE_DIVISION

    @property
    def published_form(self) -> str:
        return f"{self.code}-{self.check_digit}"

    @functools.cached_property  # every post and index row asks again; the label never changes
    def hashtag(self) -> str:
        return hashtag_of(self.label)


class CpvList:
    """All codes, looked up by code, IRI or words; built once per process by whoever needs it."""

    def __init__(self, rows: list[CpvCode]):
        self._by_code = {row.code: row for row in rows}

    @classmethod
    @functools.cache
    def bundled(cls) -> "CpvList":
        """The shipped list, read once per process (it never changes)."""
        reader = csv.DictReader(io.StringIO(bundled_text("data", "cpv-2008.csv")))
        return cls([CpvCode(row["code"], row["check_digit"], row["label_en"], int(row["level"]),
                            row["parent"] or None) for row in reader])

    def get(self, code: str) -> CpvCode | None:
        return self._by_code.get(code)

    def is_prefix(self, digits: str) -> bool:
        """Whether some code starts with these digits (a search "under 0321" needs a real branch)."""
        return digits in self._prefixes

    @functools.cached_property
    def _prefixes(self) -> frozenset[str]:
        return frozenset(code[:length] for code in self._by_code for length in range(1, len(code) + 1))

    def parse(self, text: str) -> CpvCode:
        """A code as people write it (`55520000`, `55520000-1`) or as its IRI; ValueError says what is wrong."""
        value = text.strip()
        if value.startswith(CPV_NAMESPACE):
            value = value[len(CPV_NAMESPACE):]
        match = CODE_PATTERN.match(value)
        if match is None:
            raise ValueError(f"{text!r} is not a CPV code (8 digits, e.g. 55520000 or 55520000-1)")
        entry = self._by_code.get(match.group(1))
        if entry is None:
            raise ValueError(f"{match.group(1)} is not in the CPV 2008 list")
        if match.group(2) is not None and match.group(2) != entry.check_digit:
            raise ValueError(f"{value} has the wrong check digit: the code is {entry.published_form}")
        return entry

    def search(self, words: str, limit: int = 20) -> list[CpvCode]:
        """Codes whose label contains every word (case-insensitive), broadest first."""
        needles = words.lower().split()
        hits = [row for row in self._by_code.values() if all(needle in row.label.lower() for needle in needles)]
        return sorted(hits, key=lambda row: (row.level, row.code))[:limit]


def hashtag_of(label: str) -> str:
    """A CamelCase hashtag (without #) from a label: `Catering services` → `CateringServices`; long labels are
    cut at their first comma or `and`."""
    words = re.findall(r"[^\W_]+", label)
    tag = "".join(word[:1].upper() + word[1:] for word in words)
    if len(tag) > HASHTAG_MAX_LENGTH:
        head = re.split(r",|\band\b|\(", label, maxsplit=1)[0]
        tag = "".join(word[:1].upper() + word[1:] for word in re.findall(r"[^\W_]+", head))
    return tag[:HASHTAG_MAX_LENGTH]
