"""Command-line options for profile fields: one table serves `init`, `actor add` and `profile edit`."""

import argparse
from dataclasses import replace

from vocab.profile import IDENTIFIER_SCHEMES, FieldProblem, Profile, ProfileError

# (option, Profile field, kind, help). Kinds: text, number, list, flag.
PROFILE_OPTIONS = (
    ("--summary", "summary", "text", "bio shown on Mastodon (plain text; blank lines start paragraphs)"),
    ("--legal-name", "legal_name", "text", "registered legal name"),
    ("--website", "website", "text", "website URL (shown as a verified link field)"),
    ("--icon-url", "icon_url", "text", "URL of a logo (PNG/JPEG, at most 400x400)"),
    ("--identifier", "identifiers", "list",
     f"register identifier as SCHEME=VALUE, repeatable; schemes: {', '.join(IDENTIFIER_SCHEMES)}"),
    ("--same-as", "same_as", "list", "an IRI describing the same organisation elsewhere (repeatable)"),
    ("--organisational-structure", "organisational_structure", "text", "ESSGlobal organisational-structure IRI"),
    ("--base-membership-type", "base_membership_type", "text", "ESSGlobal base-membership-type IRI"),
    ("--primary-sector", "primary_sector", "text", "ESSGlobal activities IRI"),
    ("--sector", "sector", "text", "sector in words, e.g. 'Food service'"),
    ("--ownership", "ownership", "text", "ownership in words, e.g. Workers, Consumers"),
    ("--legal-form", "legal_form", "text", "legal form in words, e.g. Society, Company"),
    ("--sic2007", "sic2007", "text", "SIC 2007 code, e.g. 56101"),
    ("--street-address", "street_address", "text", "street address (of the organisation, never a home)"),
    ("--locality", "locality", "text", "town or city"),
    ("--region", "region", "text", "county or region"),
    ("--postcode", "postcode", "text", "postcode, e.g. PR1 2AB"),
    ("--country", "country", "text", "ISO country code, e.g. GB"),
    ("--latitude", "latitude", "number", "latitude in degrees (with --longitude)"),
    ("--longitude", "longitude", "number", "longitude in degrees (with --latitude)"),
    ("--local-authority", "local_authority", "text", "ONS GSS code of the local authority (Preston: E07000123)"),
    ("--founding-date", "founding_date", "text", "founding date, YYYY-MM-DD"),
    ("--member-of", "member_of", "list", "a hub this organisation belongs to: local username or actor IRI (repeatable)"),
    ("--anchor-institution", "anchor_institution", "flag", "this is an anchor institution (council, university, hospital)"),
    ("--manual-approval", "manually_approves_followers", "flag", "approve each follower by hand"),
    ("--discoverable", "discoverable", "flag", "list in fediverse directories"),
    ("--indexable", "indexable", "flag", "allow full-text search of posts"),
    ("--notify", "notify", "text",
     "private: the fediverse account told of new matches, @user@host or an actor IRI (sent a direct message)"),
    ("--notify-email", "notify_email", "text", "private: the e-mail address told of new matches (needs [mail])"),
)


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("profile fields (an empty value clears a text field)")
    for option, field_name, kind, help_text in PROFILE_OPTIONS:
        if kind == "flag":
            group.add_argument(option, dest=field_name, action=argparse.BooleanOptionalAction, default=None,
                               help=help_text)
        elif kind == "list":
            group.add_argument(option, dest=field_name, action="append", default=None, metavar="VALUE",
                               help=help_text)
        elif kind == "number":
            group.add_argument(option, dest=field_name, type=float, default=None, metavar="DEGREES",
                               help=help_text)
        else:
            group.add_argument(option, dest=field_name, default=None, metavar="TEXT", help=help_text)


def apply_profile_options(profile: Profile, args: argparse.Namespace, resolve_actor) -> Profile:
    """The profile with every option given on the command line applied; lists given replace the old list."""
    changes = {}
    for _option, field_name, kind, _help in PROFILE_OPTIONS:
        value = getattr(args, field_name, None)
        if value is None:
            continue
        if field_name == "identifiers":
            value = _identifiers(value)
        elif field_name == "member_of":
            value = [resolve_actor(item) for item in value if item.strip()]
        elif kind == "list":
            value = [item for item in value if item.strip()]
        elif field_name in ("postcode", "country"):
            value = value.strip().upper()
        elif field_name == "notify":
            value = _handle(value.strip())
        elif field_name == "notify_email":
            value = _email(value.strip())
        changes[field_name] = value
    return replace(profile, **changes)


def _handle(value: str) -> str:
    """A fediverse handle as `@user@host` with the host in lower case; an IRI (or anything else) as given."""
    user, at, host = value.removeprefix("@").partition("@")
    if value.lower().startswith(("https://", "http://")) or not at:
        return value
    return f"@{user}@{host.lower()}"


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def _identifiers(values: list[str]) -> dict[str, str]:
    identifiers = {}
    for value in values:
        scheme, equals, identifier = value.partition("=")
        if not equals:
            raise ProfileError([FieldProblem("identifiers", f"{value!r} is not SCHEME=VALUE, e.g. CUK=R012345")])
        identifiers[scheme.strip().upper()] = identifier.strip()
    return identifiers
