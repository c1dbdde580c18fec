"""What a notice of new matches says: the digest of one organisation's quiet period (its best matches with their
explanations and links, and how many more), composed once and kept as JSON, then rendered as a subject, plain text
(the e-mail) and HTML (the direct message)."""

import html
import json
from dataclasses import asdict, dataclass

DIGEST_SIZE = 20  # the best this many matches are listed; the rest are counted, with a link to the commons
TITLE_LENGTH = 60  # a title in a subject or a line is cut to this many characters


class NoticeError(Exception):
    """A notice could not be sent now; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class DigestItem:
    """One match as the digest tells it: our proposal, the other side (and whose it is), how well they fit."""

    our_iri: str
    our_kind: str  # need or offer
    our_title: str
    other_iri: str
    other_kind: str
    other_title: str
    other_owner: str  # the other side's organisation, by name
    score: float
    explanation: str


@dataclass(frozen=True)
class Digest:
    organisation: str  # ours, by name
    handle: str  # ours, @user@domain
    subject: str
    items: tuple[DigestItem, ...]  # the best first, at most DIGEST_SIZE
    more: int  # matches told by this digest but not listed
    commons_url: str

    @property
    def total(self) -> int:
        return len(self.items) + self.more

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Digest":
        record = json.loads(text)
        return cls(**{**record, "items": tuple(DigestItem(**item) for item in record["items"])})

    def groups(self) -> list[tuple[DigestItem, list[DigestItem]]]:
        """The listed items by our proposal, the proposal with the best match first."""
        grouped: dict[str, list[DigestItem]] = {}
        for item in self.items:
            grouped.setdefault(item.our_iri, []).append(item)
        return [(items[0], items) for items in grouped.values()]

    def text(self) -> str:
        """The plain-text notice (the e-mail's body)."""
        lines = [f"Hello {self.organisation},", "", f"{self.subject} in the co-op commons:"]
        for ours, items in self.groups():
            lines += ["", f"Your {ours.our_kind} \"{short(ours.our_title)}\"", f"  {ours.our_iri}"]
            for item in items:
                heading = (f"  * {item.other_kind.capitalize()} \"{short(item.other_title)}\" from "
                           f"{item.other_owner} ({percent(item.score)})")
                lines += [heading, f"    {item.explanation}", f"    {item.other_iri}"]
        if self.more:
            lines += ["", f"and {self.more} more: see {self.commons_url}"]
        lines += ["", "--", (f"You are told of new matches because the profile of {self.handle} names you "
                             "for its notices (coopnode profile edit --notify / --notify-email).")]
        return "\n".join(lines) + "\n"

    def html(self, mention: str, profile_url: str) -> str:
        """The direct message's content: it opens with the mention (an h-card, as Mastodon writes one), and
        uses only p, br, span and a, which every Mastodon keeps."""
        user = mention.removeprefix("@").split("@", 1)[0]
        card = (f'<span class="h-card"><a class="u-url mention" href="{_attribute(profile_url)}">'
                f'@<span>{html.escape(user)}</span></a></span>')
        paragraphs = [f"<p>{card} {html.escape(self.subject)} in the co-op commons:</p>"]
        for ours, items in self.groups():
            lines = [f"Your {ours.our_kind} {_link(ours.our_iri, short(ours.our_title))}:"]
            lines += [f"• {item.other_kind.capitalize()} {_link(item.other_iri, short(item.other_title))} from "
                      f"{html.escape(item.other_owner)} ({percent(item.score)}): {html.escape(item.explanation)}"
                      for item in items]
            paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
        if self.more:
            paragraphs.append(f"<p>and {self.more} more: see {_link(self.commons_url, self.commons_url)}</p>")
        return "".join(paragraphs)


def compose(items: list[DigestItem], *, organisation: str, handle: str, commons_url: str) -> Digest:
    """The digest of these matches (any order): the best DIGEST_SIZE listed, the others counted."""
    ranked = sorted(items, key=lambda item: (-item.score, item.our_iri, item.other_iri))
    return Digest(organisation=organisation, handle=handle, subject=subject_of(ranked),
                  items=tuple(ranked[:DIGEST_SIZE]), more=max(len(ranked) - DIGEST_SIZE, 0), commons_url=commons_url)


def subject_of(items: list[DigestItem]) -> str:
    """"3 possible matches for your need 'School meals for 40 pupils'", or "… for 2 of your needs and offers"."""
    count = f"{len(items)} possible match{'' if len(items) == 1 else 'es'}"
    proposals = {item.our_iri: item for item in items}
    if len(proposals) == 1:
        [item] = proposals.values()
        return f"{count} for your {item.our_kind} '{short(item.our_title)}'"
    kinds = sorted({item.our_kind for item in proposals.values()})
    return f"{count} for {len(proposals)} of your {' and '.join(kind + 's' for kind in kinds)}"


def short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= TITLE_LENGTH else title[:TITLE_LENGTH - 1].rstrip() + "…"


def percent(score: float) -> str:
    return f"score {round(score * 100)} %"


def _link(href: str, text: str) -> str:
    return f'<a href="{_attribute(href)}">{html.escape(text)}</a>'


def _attribute(value: str) -> str:
    return html.escape(value, quote=True)
