"""The paged, searchable lists of a node's pages (the home page's organisations, a hub's members and re-shares):
the page and words a request asks for, and the links between pages."""

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

PAGE_SIZE = 50  # lines per page: the home page stays small (tens of kB) whatever the node's size
MAX_WORDS_LENGTH = 100


@dataclass(frozen=True)
class PageQuery:
    """Which page of a list, and the words its entries must contain; hashable, so it keys the render cache."""

    text: str = ""
    page: int = 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def url(self, path: str, page: int | None = None, **extra: str) -> str:
        """`path` with this query on another page (page 1 is left out), and other parameters kept."""
        parameters = {**extra, "q": self.text, "page": page if page and page > 1 else None}
        query = urlencode({key: value for key, value in parameters.items() if value})
        return path + (f"?{query}" if query else "")


def page_query(query: Mapping[str, str]) -> PageQuery:
    """The page a request asks for (`q`, `page`); unusable values fall back to the first page and no words."""
    text = " ".join(query.get("q", "").split())[:MAX_WORDS_LENGTH]
    page = query.get("page", "1").strip()
    return PageQuery(text, int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1)


@dataclass(frozen=True)
class Pager:
    """Where a page of a list stands: shown lines, the total, and the links to its neighbours."""

    total: int
    first: int  # 1-based number of the first line shown (0 when none)
    last: int
    page: int
    pages: int
    previous_url: str | None
    next_url: str | None


def pager(query: PageQuery, total: int, shown: int, path: str, **extra: str) -> Pager:
    pages = max(1, -(-total // PAGE_SIZE))
    return Pager(total=total, first=query.offset + 1 if shown else 0, last=query.offset + shown, page=query.page,
                 pages=pages, previous_url=query.url(path, query.page - 1, **extra) if query.page > 1 else None,
                 next_url=query.url(path, query.page + 1, **extra) if query.page < pages else None)
