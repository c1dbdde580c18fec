"""Importing co-operatives from the Co-operatives UK open data CSV: one hosted actor per co-op, idempotently."""

import csv
import re
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from node.store import actors, hub_members
from node.store.database import Database
from vocab.profile import ESSGLOBAL_STANDARD, Profile, ProfileError, validate

REQUIRED_COLUMNS = ("Identifier", "Name", "Postcode")
KNOWN_COLUMNS = (
    "Identifier", "Name", "Description", "Organisational Structure", "Primary Activity", "Street Address",
    "Locality", "Region", "Postcode", "Country ID", "Website", "Companies House Number", "Membership Type",
    "Geo Container Latitude", "Geo Container Longitude", "Sector", "SIC Code", "Ownership Classification",
    "Legal Form",
)
# The data set names ESSGlobal terms under a development host; lod.coop is the published one (vocab.md §8.6).
ESSGLOBAL_VARIANTS = ("https://dev.lod.coop/essglobal/2.1/standard/", "http://dev.lod.coop/essglobal/2.1/standard/")
CUK_LOD = "https://lod.coop/coops-uk/"
USERNAME_LENGTH = 30
NAME_SUFFIXES = re.compile(r"\b(limited|ltd)\.?$", re.IGNORECASE)
BATCH = 500  # rows per transaction: new actors, changed profiles and memberships together


class CoopFileError(Exception):
    """The file cannot be imported at all (unreadable, or not in the Co-operatives UK format)."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # filtered out by --postcode-prefix
    problems: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)
    usernames: list[str] = field(default_factory=list)  # every co-op of the file now hosted (new or not)
    new_members: dict[str, int] = field(default_factory=dict)  # hub username -> co-ops that became its members


@dataclass(frozen=True)
class CoopRow:
    row_number: int  # as a spreadsheet shows it: the header is row 1
    external_id: str
    profile: Profile


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(row number, row) pairs of the CSV; the header must have the Co-operatives UK columns."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header = reader.fieldnames or []
            missing = [column for column in REQUIRED_COLUMNS if column not in header]
            if missing:
                raise CoopFileError(
                    f"{path} is not in the Co-operatives UK open data format: missing column(s) "
                    f"{', '.join(missing)} (found: {', '.join(header[:8]) or 'nothing'})"
                )
            return [(number, row) for number, row in enumerate(reader, start=2)]
    except FileNotFoundError as error:
        raise CoopFileError(f"{path} does not exist") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise CoopFileError(f"{path} cannot be read as UTF-8 CSV: {error}") from error
    except IsADirectoryError as error:
        raise CoopFileError(f"{path} is a directory, not a CSV file") from error


def matches_postcode(postcode: str, prefixes: list[str]) -> bool:
    """PR matches PR1 2AB but not PRX; WF12 matches WF12 9AA but not WF1 2AA."""
    compact = postcode.replace(" ", "").upper()
    for prefix in prefixes:
        if compact.startswith(prefix):
            rest = compact[len(prefix):]
            if prefix.isalpha() and rest[:1].isdigit():
                return True
            if not prefix.isalpha() and (not rest or len(compact) - len(prefix) == 3):
                return True
    return False


def normalise_essglobal(iri: str) -> str:
    for variant in ESSGLOBAL_VARIANTS:
        if iri.startswith(variant):
            return ESSGLOBAL_STANDARD + iri[len(variant):]
    return iri


def username_for(name: str) -> str:
    """A mentionable handle from a co-op's name: 'The Preston Larder Limited' -> 'the_preston_larder'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", " ", NAME_SUFFIXES.sub("", ascii_name.strip()).lower().replace("'", "")).split()
    handle = ""
    for word in words:
        candidate = f"{handle}_{word}" if handle else word
        if len(candidate) > USERNAME_LENGTH:
            break
        handle = candidate
    return handle or (words[0][:USERNAME_LENGTH] if words else "coop")


def _number(text: str, column: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{column}: {text!r} is not a number") from None


def profile_from_row(row: dict, member_of: list[str]) -> tuple[str, Profile]:
    """(external id, profile) for one CSV row; ValueError or ProfileError says what is wrong with it."""
    cell = {column: (row.get(column) or "").strip() for column in KNOWN_COLUMNS}
    if not cell["Identifier"]:
        raise ValueError("Identifier: empty (every Co-operatives UK row has one, e.g. R012345)")
    if not cell["Name"]:
        raise ValueError("Name: empty")
    identifiers = {"CUK": cell["Identifier"]}
    if cell["Companies House Number"]:
        identifiers["GB-COH"] = cell["Companies House Number"]
    latitude = _number(cell["Geo Container Latitude"], "Geo Container Latitude")
    longitude = _number(cell["Geo Container Longitude"], "Geo Container Longitude")
    website = cell["Website"]
    if website and not re.match(r"^https?://", website):
        website = "http://" + website
    profile = Profile(
        username=username_for(cell["Name"]),
        name=cell["Name"],
        summary=cell["Description"],
        legal_name=cell["Name"],
        website=website,
        identifiers=identifiers,
        same_as=[CUK_LOD + cell["Identifier"]],
        organisational_structure=normalise_essglobal(cell["Organisational Structure"]),
        base_membership_type=normalise_essglobal(cell["Membership Type"]),
        primary_sector=normalise_essglobal(cell["Primary Activity"]),
        sector=cell["Sector"],
        ownership=cell["Ownership Classification"],
        legal_form=cell["Legal Form"],
        sic2007=cell["SIC Code"],
        street_address=", ".join(line.strip() for line in cell["Street Address"].splitlines() if line.strip()),
        locality=cell["Locality"],
        region=cell["Region"],
        postcode=cell["Postcode"].upper(),
        country=cell["Country ID"].upper(),
        latitude=latitude,
        longitude=longitude,
        member_of=list(member_of),
    )
    return "CUK:" + cell["Identifier"], profile


def _merged(existing: Profile, imported: Profile) -> Profile:
    """What the CSV says replaces what it said before; what the operator added (bio, memberships, flags) stays."""
    return replace(
        imported,
        username=existing.username,
        actor_type=existing.actor_type,
        summary=imported.summary or existing.summary,
        icon_url=existing.icon_url,
        member_of=existing.member_of + [iri for iri in imported.member_of if iri not in existing.member_of],
        local_authority=existing.local_authority,
        founding_date=existing.founding_date,
        anchor_institution=existing.anchor_institution,
        manually_approves_followers=existing.manually_approves_followers,
        discoverable=existing.discoverable,
        indexable=existing.indexable,
        notify=existing.notify,
        notify_email=existing.notify_email,
    )


async def import_coops(
    db: Database, path: Path, *, postcode_prefixes: list[str] | None = None, limit: int | None = None,
    member_of: list[str] | None = None, hubs: list[str] | None = None,
    actor_iri: Callable[[str], str] = lambda username: username, row_filter: Callable[[dict], bool] | None = None,
    progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None,
) -> ImportReport:
    """Host one actor per co-op in the file. A rerun updates changed rows and never duplicates; a bad row is
    reported with its number and reason, and the others still import. `member_of` (IRIs) goes into each profile;
    `hubs` are the local hubs (usernames, checked by the caller) whose members the co-ops become (by
    `actor_iri(username)`), written with
    each batch, so an interrupted import leaves every co-op it hosted a member. New actors get their keys on
    first need (federation.keys), which is what makes a national file take seconds rather than minutes."""
    report = ImportReport()
    prefixes = [prefix.replace(" ", "").upper() for prefix in postcode_prefixes or [] if prefix.strip()]
    selected = []
    for number, row in read_rows(path):
        if prefixes and not matches_postcode(row.get("Postcode") or "", prefixes):
            report.skipped += 1
        elif row_filter is None or row_filter(row):
            selected.append((number, row))
    if limit is not None:
        selected = selected[:limit]
    if on_total:
        on_total(len(selected))
    taken = await actors.taken_usernames(db)
    for start in range(0, len(selected), BATCH):
        batch = selected[start:start + BATCH]
        parsed = [_parse(number, row, member_of or [], report) for number, row in batch]
        await _store_batch(db, [coop for coop in parsed if coop is not None], report, taken, hubs or [],
                           actor_iri)
        if progress:
            progress(len(batch))
    return report


def _parse(number: int, row: dict, member_of: list[str], report: ImportReport) -> CoopRow | None:
    try:
        external_id, profile = profile_from_row(row, member_of)
        validate(profile)
    except (ValueError, ProfileError) as error:
        report.problems.append((number, str(error)))
        return None
    return CoopRow(number, external_id, profile)


async def _store_batch(db: Database, coops: list[CoopRow], report: ImportReport, taken: set[str],
                       hubs: list[str], actor_iri: Callable[[str], str]) -> None:
    """One transaction per batch: the new actors, the changed profiles and the hub memberships together."""
    existing = await actors.imported(db, [coop.external_id for coop in coops])  # one query for the batch
    new, changed, hosted = [], [], []
    for coop in coops:
        before = existing.get(coop.external_id)
        if before is None:
            if coop.external_id in {external_id for _, external_id in new}:
                report.problems.append((coop.row_number, f"{coop.external_id} appears twice in the file; "
                                                         "the first row was imported"))
                continue
            username = _free_username(coop, taken)
            if username is None:
                report.problems.append((coop.row_number, f"username: {coop.profile.username!r} and its variant "
                                                         "with the register number are taken on this node"))
                continue
            taken.add(username)
            new.append((replace(coop.profile, username=username), coop.external_id))
            hosted.append(username)
            continue
        if before.is_deleted:
            report.problems.append((coop.row_number, f"{before.username!r} was removed from this node; "
                                                     "not re-imported"))
            continue
        merged = _merged(before.profile, coop.profile)
        if merged == before.profile:
            report.unchanged += 1
        else:
            changed.append(merged)
        hosted.append(before.username)
    now = int(time.time())
    async with db.transaction() as connection:
        await actors.create_many_in(connection, new, now)
        await actors.update_profiles_in(connection, changed, now)
        for hub in hubs:
            added = await hub_members.add_members_in(connection, hub, [actor_iri(name) for name in hosted], now)
            report.new_members[hub] = report.new_members.get(hub, 0) + added
    report.created += len(new)
    report.updated += len(changed)
    report.usernames.extend(hosted)


def _free_username(coop: CoopRow, taken: set[str]) -> str | None:
    """The name-derived handle, or, when another actor has it, the handle plus the register number."""
    base = coop.profile.username
    if base not in taken:
        return base
    suffix = "_" + coop.external_id.split(":", 1)[1].lower()
    candidate = base[: USERNAME_LENGTH + 10 - len(suffix)].rstrip("_") + suffix
    return None if candidate in taken else candidate
