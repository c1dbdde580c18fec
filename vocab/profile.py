"""An organisation's profile: its fields, their validation, and its actor document in the shapes Mastodon reads."""

import html
import math
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timezone

from vocab.context import document_context

ACTOR_TYPES = ("Organization", "Group", "Application")
USERNAME_PATTERN = re.compile(r"^[a-z0-9_]+([.-][a-z0-9_]+)*$")
USERNAME_MAX_LENGTH = 64
NAME_MAX_LENGTH = 200
SUMMARY_MAX_LENGTH = 5000
ESSGLOBAL_STANDARD = "https://lod.coop/essglobal/2.1/standard/"
GSS_CODE_PATTERN = re.compile(r"^[EWSNK]\d{8}$")
SIC_PATTERN = re.compile(r"^\d{4,5}$")
UK_POSTCODE_PATTERN = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$")
ONS_GEOGRAPHY = "http://statistics.data.gov.uk/id/statistical-geography/"
MASTODON_FIELD_LIMIT = 4
# Whom the node tells of new matches: a fediverse account (@user@host, the host may carry a port) or its actor IRI.
FEDIVERSE_HANDLE_PATTERN = re.compile(r"^@?[A-Za-z0-9_]+([.-]+[A-Za-z0-9_]+)*@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?"
                                      r"(:[0-9]{1,5})?$")
# A plain e-mail address (dot-atom local part, a domain of two labels or more): nothing more exotic is needed.
EMAIL_PATTERN = re.compile(r"^(?=.{3,254}$)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                           r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                           r"[A-Za-z0-9])?)+$")
# Settings of the organisation kept by its node only: never in its actor document, pages or linked data.
PRIVATE_FIELDS = ("notify", "notify_email")

# Register identifiers (vocab.md §8.4), with the words a reader sees in a profile field.
IDENTIFIER_SCHEMES = {
    "CUK": "Co-operatives UK",
    "GB-COH": "Companies House",
    "GB-MPR": "FCA Mutuals Public Register",
    "GB-CHC": "Charity Commission",
    "GB-PPON": "Public Procurement Organisation Number",
}


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class FieldErrors(ValueError):
    """Validation failed; `problems` names each field and why (the message joins them)."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


class ProfileError(FieldErrors):
    """A profile failed validation."""


@dataclass
class Profile:
    """What an organisation says about itself. Free text is plain text; HTML is made when rendering."""

    username: str
    name: str
    actor_type: str = "Organization"
    summary: str = ""
    legal_name: str = ""
    website: str = ""
    icon_url: str = ""
    identifiers: dict[str, str] = field(default_factory=dict)
    same_as: list[str] = field(default_factory=list)
    organisational_structure: str = ""
    base_membership_type: str = ""
    primary_sector: str = ""
    sector: str = ""
    ownership: str = ""
    legal_form: str = ""
    sic2007: str = ""
    street_address: str = ""
    locality: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""
    latitude: float | None = None
    longitude: float | None = None
    local_authority: str = ""
    founding_date: str = ""
    member_of: list[str] = field(default_factory=list)
    anchor_institution: bool = False
    manually_approves_followers: bool = False
    discoverable: bool = True
    indexable: bool = True
    notify: str = ""  # private: the fediverse account told of new matches (@user@host or an actor IRI)
    notify_email: str = ""  # private: the address e-mailed about new matches

    def to_record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> "Profile":
        known = {f.name for f in fields(cls)}
        unknown = set(record) - known
        if unknown:
            raise ProfileError([FieldProblem(name, "unknown profile field") for name in sorted(unknown)])
        return cls(**record)

    @property
    def is_cooperative(self) -> bool:
        return bool(self.organisational_structure)


@dataclass(frozen=True)
class ActorUrls:
    """Where an actor's parts live; the node decides the layout, the document only states it."""

    id: str
    inbox: str
    outbox: str
    followers: str
    following: str
    featured: str
    needs: str
    offers: str
    profile_page: str
    shared_inbox: str

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"


def validate(profile: Profile) -> Profile:
    """Return the profile if every field is acceptable; otherwise raise ProfileError naming each problem."""
    problems = list(_problems(profile))
    if problems:
        raise ProfileError(problems)
    return profile


def _problems(p: Profile):
    if p.actor_type != "Application":
        if not USERNAME_PATTERN.match(p.username or ""):
            yield FieldProblem(
                "username",
                f"{p.username!r} is not a usable handle: lowercase letters, digits and _ "
                "(with . or - only between them), as Mastodon can mention",
            )
        elif len(p.username) > USERNAME_MAX_LENGTH:
            yield FieldProblem("username", f"longer than {USERNAME_MAX_LENGTH} characters")
    if p.actor_type not in ACTOR_TYPES:
        yield FieldProblem("actor_type", f"{p.actor_type!r} is not one of {', '.join(ACTOR_TYPES)}")
    if not p.name.strip():
        yield FieldProblem("name", "a display name is required")
    elif len(p.name) > NAME_MAX_LENGTH:
        yield FieldProblem("name", f"longer than {NAME_MAX_LENGTH} characters")
    if len(p.summary) > SUMMARY_MAX_LENGTH:
        yield FieldProblem("summary", f"longer than {SUMMARY_MAX_LENGTH} characters")
    for name in ("website", "icon_url"):
        value = getattr(p, name)
        if value and not _is_web_url(value):
            yield FieldProblem(name, f"{value!r} is not an http(s) URL")
    for scheme, value in p.identifiers.items():
        if scheme not in IDENTIFIER_SCHEMES:
            yield FieldProblem("identifiers", f"unknown register {scheme!r}; known: {', '.join(IDENTIFIER_SCHEMES)}")
        elif not value.strip():
            yield FieldProblem("identifiers", f"the {scheme} identifier is empty")
    for iri in p.same_as:
        if not _is_web_url(iri):
            yield FieldProblem("same_as", f"{iri!r} is not an http(s) IRI")
    for iri in p.member_of:
        if not _is_web_url(iri):
            yield FieldProblem("member_of", f"{iri!r} is not an actor IRI")
    essglobal_fields = {
        "organisational_structure": "organisational-structure/",
        "base_membership_type": "base-membership-type/",
        "primary_sector": "activities",
    }
    for name, path in essglobal_fields.items():
        value = getattr(p, name)
        if value and not value.startswith(ESSGLOBAL_STANDARD + path):
            yield FieldProblem(name, f"{value!r} is not an ESSGlobal IRI under {ESSGLOBAL_STANDARD}{path}")
    if p.sic2007 and not SIC_PATTERN.match(p.sic2007):
        yield FieldProblem("sic2007", f"{p.sic2007!r} is not a 4- or 5-digit SIC 2007 code")
    if p.postcode and (p.country in ("", "GB")) and not UK_POSTCODE_PATTERN.match(p.postcode):
        yield FieldProblem("postcode", f"{p.postcode!r} is not a UK postcode (e.g. PR1 2AB)")
    if p.country and not re.match(r"^[A-Z]{2}$", p.country):
        yield FieldProblem("country", f"{p.country!r} is not a two-letter ISO 3166 country code (e.g. GB)")
    yield from _location_problems(p.latitude, p.longitude)
    if p.local_authority and not GSS_CODE_PATTERN.match(p.local_authority):
        yield FieldProblem(
            "local_authority", f"{p.local_authority!r} is not an ONS GSS code (Preston is E07000123)"
        )
    if p.founding_date:
        try:
            date.fromisoformat(p.founding_date)
        except ValueError:
            yield FieldProblem("founding_date", f"{p.founding_date!r} is not a date (YYYY-MM-DD)")
    if p.notify and not (FEDIVERSE_HANDLE_PATTERN.match(p.notify) or _is_web_url(p.notify)):
        yield FieldProblem("notify", f"{p.notify!r} is neither a fediverse handle like @ann@social.example "
                                     "nor an actor IRI (https://…)")
    if p.notify_email and not is_email_address(p.notify_email):
        yield FieldProblem("notify_email", f"{p.notify_email!r} is not an e-mail address like ops@coop.example")


def _location_problems(latitude, longitude):
    if (latitude is None) != (longitude is None):
        yield FieldProblem("latitude" if latitude is None else "longitude", "latitude and longitude go together")
        return
    if latitude is None:
        return
    for name, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            yield FieldProblem(name, f"{value!r} is not a number")
        elif not -limit <= value <= limit:
            yield FieldProblem(name, f"{value} is outside -{limit}..{limit}")


def is_email_address(value: str) -> bool:
    return bool(EMAIL_PATTERN.match(value))


def _is_web_url(value: str) -> bool:
    return bool(re.match(r"^https?://[^\s/?#]+[^\s]*$", value))


def summary_html(text: str) -> str:
    """Plain text as the HTML Mastodon shows: paragraphs from blank lines, line breaks kept, all escaped."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in paragraph.splitlines()) + "</p>"
        for paragraph in paragraphs
    )


def profile_fields(profile: Profile) -> list[dict]:
    """Mastodon profile fields (PropertyValue, value as HTML), at most four, most useful first."""
    entries = []
    if profile.website:
        shown = re.sub(r"^https?://(www\.)?", "", profile.website).rstrip("/")
        entries.append(
            ("Website", f'<a href="{html.escape(profile.website)}" rel="me nofollow noopener" '
                        f'target="_blank">{html.escape(shown)}</a>')
        )
    registered = [f"{IDENTIFIER_SCHEMES[scheme]} {value}" for scheme, value in profile.identifiers.items()]
    if registered:
        entries.append(("Registered", html.escape(", ".join(registered))))
    kind = ", ".join(part for part in (profile.ownership, profile.legal_form) if part)
    if kind:
        entries.append(("Type", html.escape(kind)))
    if profile.sector:
        entries.append(("Sector", html.escape(profile.sector)))
    place = ", ".join(part for part in (profile.locality, profile.postcode) if part)
    if place:
        entries.append(("Where", html.escape(place)))
    return [{"type": "PropertyValue", "name": name, "value": value} for name, value in entries[:MASTODON_FIELD_LIMIT]]


def actor_document(
    profile: Profile, urls: ActorUrls, public_key_pem: str, published: datetime, *, rich: bool = False
) -> dict:
    """The actor as AS2 JSON-LD, built by hand (no compaction: arrays stay arrays, Public stays a full IRI).

    `rich` adds the schema.org/ESSGlobal types for linked-data consumers; ActivityPub peers get one type string.
    """
    document = {
        "@context": document_context(),
        "id": urls.id,
        "type": _types(profile) if rich else profile.actor_type,
        "preferredUsername": profile.username,
        "name": profile.name,
        "summary": summary_html(profile.summary),
        "url": urls.profile_page,
        "inbox": urls.inbox,
        "outbox": urls.outbox,
        "followers": urls.followers,
        "following": urls.following,
        "featured": urls.featured,
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": profile.manually_approves_followers,
        "discoverable": profile.discoverable,
        "indexable": profile.indexable,
        "published": published.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publicKey": {"id": urls.key_id, "owner": urls.id, "publicKeyPem": public_key_pem},
        "attachment": profile_fields(profile),
    }
    if profile.actor_type == "Application":
        for key in ("featured", "attachment"):
            del document[key]
        return document
    document["needs"] = urls.needs
    document["offers"] = urls.offers
    if profile.icon_url:
        document["icon"] = {"type": "Image", "url": profile.icon_url}
    document.update(_linked_data_fields(profile, urls.id))
    return document


def _types(profile: Profile) -> list[str]:
    types = [profile.actor_type]
    if profile.is_cooperative:
        types += ["Cooperative", "SSEInitiative"]
    elif profile.actor_type == "Group":
        types.append("schema:Organization")
    return types


def _linked_data_fields(profile: Profile, actor_id: str) -> dict:
    """schema.org, ESSGlobal and ccn: terms of vocab.md §8.4; nested objects get fragment IRIs."""
    data: dict = {}
    if profile.legal_name:
        data["legalName"] = profile.legal_name
    if profile.identifiers:
        data["identifier"] = [
            {"id": f"{actor_id}#id-{scheme.lower()}", "type": "PropertyValue", "propertyID": scheme, "value": value}
            for scheme, value in profile.identifiers.items()
        ]
    if profile.same_as:
        data["sameAs"] = list(profile.same_as)
    for key, value in (
        ("organisationalStructure", profile.organisational_structure),
        ("baseMembershipType", profile.base_membership_type),
        ("primarySector", profile.primary_sector),
        ("sic2007", profile.sic2007),
        ("foundingDate", profile.founding_date),
    ):
        if value:
            data[key] = value
    address = {
        key: value
        for key, value in (
            ("streetAddress", profile.street_address),
            ("addressLocality", profile.locality),
            ("addressRegion", profile.region),
            ("postalCode", profile.postcode),
            ("addressCountry", profile.country),
        )
        if value
    }
    if address:
        data["address"] = {"id": f"{actor_id}#address", "type": "PostalAddress", **address}
    if profile.latitude is not None:
        data["location"] = {
            "id": f"{actor_id}#location",
            "type": ["Place", "SpatialThing"],
            "name": ", ".join(part for part in (profile.locality, profile.postcode) if part) or profile.name,
            "latitude": float(profile.latitude),
            "longitude": float(profile.longitude),
        }
    if profile.local_authority:
        data["localAuthority"] = ONS_GEOGRAPHY + profile.local_authority
    if profile.member_of:
        data["memberOf"] = list(profile.member_of)
    if profile.anchor_institution:
        data["anchorInstitution"] = True
    return data
