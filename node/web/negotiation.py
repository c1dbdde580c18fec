"""Content negotiation: which representation of a resource an Accept header asks for."""

import functools
from dataclasses import dataclass

AS2_PROFILE = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
LD_JSON_AS2 = f'application/ld+json; profile="{AS2_PROFILE}"'


@dataclass(frozen=True)
class Representation:
    name: str  # "activity", "jsonld", "turtle", "html"
    media_type: str  # the Content-Type sent back


ACTIVITY = Representation("activity", ACTIVITY_JSON)
ACTIVITY_AS_LD = Representation("activity", LD_JSON_AS2)
JSONLD = Representation("jsonld", LD_JSON_AS2)
TURTLE = Representation("turtle", "text/turtle; charset=utf-8")
HTML = Representation("html", "text/html; charset=utf-8")

ANY_PROFILE = "*"

# (type, subtype, the profile parameters a range may carry (None: none given), representation), in server
# preference when a client rates several equally: browsers and curl's */* get the page. The AS2-profiled JSON-LD
# is only for clients that name the profile; activity+json implies it; other profiles are hints (RFC 6906) and
# get plain JSON-LD.
OFFERED = (
    ("text", "html", (None,), HTML),
    ("application", "activity+json", (None, AS2_PROFILE), ACTIVITY),
    ("application", "ld+json", (AS2_PROFILE,), ACTIVITY_AS_LD),
    ("application", "ld+json", (None, ANY_PROFILE), JSONLD),
    ("text", "turtle", (None,), TURTLE),
    ("application", "json", (None,), ACTIVITY),
)


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    profile: str | None
    quality: float

    def specificity(self, type_: str, subtype: str, profiles: tuple) -> int:
        """How precisely this range names the offer: -1 no match, higher = more specific."""
        if self.type not in ("*", type_) or self.subtype not in ("*", subtype):
            return -1
        if self.profile is None:
            if None not in profiles:
                return -1
        elif self.profile not in profiles and ANY_PROFILE not in profiles:
            return -1
        # A profile only adds precision where the offer names it; as a mere hint it counts for nothing.
        named_profile = self.profile is not None and self.profile in profiles
        return (self.type != "*") + (self.subtype != "*") + named_profile


def parse_accept(header: str) -> list[MediaRange]:
    ranges = []
    for part in header.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        if not pieces[0] or "/" not in pieces[0]:
            continue
        type_, _, subtype = pieces[0].lower().partition("/")
        quality, profile = 1.0, None
        for parameter in pieces[1:]:
            key, _, value = parameter.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
            elif key == "profile":
                # A profile parameter may list several space-separated IRIs.
                profile = AS2_PROFILE if AS2_PROFILE in value.split() else value
        ranges.append(MediaRange(type_, subtype, profile, quality))
    return ranges


@functools.lru_cache(maxsize=256)
def choose(accept_header: str | None, offered=OFFERED) -> Representation | None:
    """The best representation for the header, or None when nothing offered is acceptable (406).
    Memoised: clients send a handful of distinct Accept headers, and parsing was half a cached GET's cost."""
    if not accept_header or not accept_header.strip():
        return offered[0][3]
    ranges = parse_accept(accept_header)
    if not ranges:
        return offered[0][3]
    best, best_quality = None, 0.0
    for type_, subtype, profiles, representation in offered:
        matches = [(r.specificity(type_, subtype, profiles), r.quality) for r in ranges]
        matches = [match for match in matches if match[0] >= 0]
        if not matches:
            continue
        quality = max(matches)[1]  # the most specific matching range decides
        if quality > best_quality:
            best, best_quality = representation, quality
    return best


def is_activitypub(representation: Representation) -> bool:
    return representation.name == "activity"
