"""Places in words and coordinates, from two small bundled tables: the name of a UK local authority from its ONS
GSS code (`E07000123` -> Preston), and the centre of a UK postcode district (`PR1 2AB` -> PR1 -> 53.76, -2.70)."""

import csv
import functools
import io
import re
from dataclasses import dataclass

from vocab.context import bundled_text

ONS_ATTRIBUTION = "Source: Office for National Statistics, licensed under the Open Government Licence v3.0"
CUK_ATTRIBUTION = "Contains Co-operatives UK open data, licensed under ODC-By 1.0"
# A full or partial UK postcode: the outward code (district) and, optionally, the inward code.
POSTCODE = re.compile(r"^\s*([A-Z]{1,2}[0-9][0-9A-Z]?)\s*([0-9][A-Z]{2})?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DistrictCentre:
    """The mean location of the co-ops with a postcode in the district (Co-operatives UK open data, 2023 Q2)."""

    district: str
    latitude: float
    longitude: float
    postcodes: int  # how many postcodes the centre was worked out from


@functools.cache
def _local_authorities() -> dict[str, str]:
    reader = csv.DictReader(io.StringIO(bundled_text("data", "local-authorities.csv")))
    return {row["code"]: row["name"] for row in reader}


@functools.cache
def _districts() -> dict[str, DistrictCentre]:
    reader = csv.DictReader(io.StringIO(bundled_text("data", "postcode-districts.csv")))
    return {row["district"]: DistrictCentre(row["district"], float(row["latitude"]), float(row["longitude"]),
                                            int(row["postcodes"])) for row in reader}


def local_authority_name(code: str) -> str | None:
    """The name of the local authority with this ONS GSS code (E06, E07, E08, E09, W06, S12, N09), or None."""
    return _local_authorities().get((code or "").strip().upper())


def local_authority_label(code: str) -> str:
    """What a page shows for a local-authority code: its name when known, else the code itself."""
    return local_authority_name(code) or code


def postcode_district(postcode: str) -> str | None:
    """The district (outward code) of a UK postcode: 'pr1 2ab' -> 'PR1'; None when it is not a UK postcode."""
    match = POSTCODE.match(postcode or "")
    return match.group(1).upper() if match else None


def district_centre(postcode: str) -> DistrictCentre | None:
    """The centre of the postcode's district, when the bundled table knows it."""
    district = postcode_district(postcode)
    return _districts().get(district) if district else None
