"""Reading the commons' ranked matches (written by node.commons.matcher): those of one proposal, those of every
open proposal of one organisation, each with the other proposal's title, author and link, and the score in words.
Matches are derived from public proposals and shown on our pages, in the API and the CLI; they are not federated."""

from dataclasses import dataclass
from datetime import datetime, timezone

from node.store.database import Database
from vocab.proposal import iso

# The fields of a proposal that a result or a match shows, with its author's name and page (LEFT JOIN: a peer's
# proposal may come before its author's profile).
SUMMARY_COLUMNS = ("p.iri, p.kind, p.status, p.title, p.actor_iri, p.ends_at, p.is_local, "
                   "o.name AS author_name, o.page_url AS author_url")
OPEN = "{p}.status = 'open' AND ({p}.ends_at IS NULL OR {p}.ends_at > ?)"
# Score thresholds and their words, best first (the matcher keeps pairs from MIN_SCORE = 0.2).
SCORE_WORDS = ((0.8, "strong"), (0.6, "good"), (0.4, "fair"), (0.0, "weak"))


def score_words(score: float) -> str:
    """How good a match is, in a word a person reads at a glance."""
    return next(words for threshold, words in SCORE_WORDS if score >= threshold)


@dataclass(frozen=True)
class ProposalSummary:
    """A proposal of the commons as a list shows it."""

    iri: str
    kind: str
    status: str
    title: str
    author_iri: str
    author_name: str
    author_url: str | None
    ends_at: int | None
    is_local: bool

    @classmethod
    def of_row(cls, row) -> "ProposalSummary":
        return cls(iri=row["iri"], kind=row["kind"], status=row["status"], title=row["title"],
                   author_iri=row["actor_iri"], author_name=row["author_name"] or row["actor_iri"],
                   author_url=row["author_url"] or None, ends_at=row["ends_at"], is_local=bool(row["is_local"]))

    def as_json(self) -> dict:
        return {"iri": self.iri, "kind": self.kind, "status": self.status, "title": self.title,
                "author": {"iri": self.author_iri, "name": self.author_name, "url": self.author_url},
                "ends": moment(self.ends_at)}


@dataclass(frozen=True)
class RankedMatch:
    """One match of a proposal: how good, why, since when, and the proposal on the other side."""

    score: float
    explanation: str
    found_at: int
    other: ProposalSummary

    @property
    def words(self) -> str:
        return score_words(self.score)

    def as_json(self) -> dict:
        return {"score": self.score, "score_words": self.words, "explanation": self.explanation,
                "found_at": moment(self.found_at), "proposal": self.other.as_json()}


def moment(seconds: int | None) -> str | None:
    return None if seconds is None else iso(datetime.fromtimestamp(seconds, timezone.utc))


async def summary(db: Database, iri: str) -> ProposalSummary | None:
    """A proposal of the commons (open or not), None when the commons does not hold it."""
    row = await db.fetch_one(f"SELECT {SUMMARY_COLUMNS} FROM commons_proposals p "
                             "LEFT JOIN commons_organisations o ON o.iri = p.actor_iri WHERE p.iri = ?", (iri,))
    return None if row is None else ProposalSummary.of_row(row)


async def matches_of(db: Database, iri: str, kind: str, *, now: int, min_score: float = 0.0,
                     limit: int | None = None) -> list[RankedMatch]:
    """The matches of a proposal with the other kind's still-open proposals, best first."""
    mine, theirs = ("need_iri", "offer_iri") if kind == "need" else ("offer_iri", "need_iri")
    rows = await db.fetch_all(
        f"SELECT m.score, m.explanation, m.found_at, {SUMMARY_COLUMNS} FROM matches m "
        f"JOIN commons_proposals p ON p.iri = m.{theirs} LEFT JOIN commons_organisations o ON o.iri = p.actor_iri "
        f"WHERE m.{mine} = ? AND m.score >= ? AND {OPEN.format(p='p')} ORDER BY m.score DESC, p.iri LIMIT ?",
        (iri, min_score, now, -1 if limit is None else limit))
    return [RankedMatch(row["score"], row["explanation"], row["found_at"], ProposalSummary.of_row(row))
            for row in rows]


async def open_proposals_of(db: Database, actor_iri: str, *, now: int) -> list[ProposalSummary]:
    """An organisation's open proposals in the commons: needs first, then offers, newest first."""
    rows = await db.fetch_all(
        f"SELECT {SUMMARY_COLUMNS} FROM commons_proposals p LEFT JOIN commons_organisations o ON o.iri = p.actor_iri "
        f"WHERE p.actor_iri = ? AND {OPEN.format(p='p')} ORDER BY p.kind, p.updated_at DESC, p.iri",
        (actor_iri, now))
    return [ProposalSummary.of_row(row) for row in rows]


async def actor_matches(db: Database, actor_iri: str, *, now: int,
                        min_score: float = 0.0) -> list[tuple[ProposalSummary, list[RankedMatch]]]:
    """Each open proposal of an organisation with its matches."""
    return [(item, await matches_of(db, item.iri, item.kind, now=now, min_score=min_score))
            for item in await open_proposals_of(db, actor_iri, now=now)]


def actor_matches_json(actor: dict, found: list[tuple[ProposalSummary, list[RankedMatch]]]) -> dict:
    """The stable JSON of an organisation's matches (the API's and `coopnode matches --json`)."""
    return {"actor": actor, "proposals": [{**item.as_json(), "matches": [match.as_json() for match in ranked]}
                                          for item, ranked in found]}
