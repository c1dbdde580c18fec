"""The fields of a need or an offer as the CLI takes them: one flag per field (with its help), or a YAML/JSON
file of them."""

import argparse
import json
import re
from pathlib import Path

from node.cli.common import UsageError
from vocab.proposal import FIELDS

LIST_FIELDS = ("cpv", "hashtags")  # repeatable flags; each value may also be comma-separated
# (metavar, help) of each field's flag; every name of vocab.proposal.FIELDS has one.
FIELD_HELP = {
    "title": ("TEXT", "what is needed or offered, in one line (required)"),
    "description": ("TEXT", "more detail, plain text; blank lines start paragraphs"),
    "cpv": ("CODE", "CPV 2008 code(s), e.g. 55520000 for catering services (required; repeatable or "
                    "comma-separated)"),
    "action": ("ACTION", "transfer, transferCustody, deliverService, work or use (default: deliverService when "
                         "every code is a service, else transfer)"),
    "quantity": ("NUMBER", "how much, in --unit (an offer sold in lots: the size of one lot)"),
    "unit": ("UNIT", "unit of the quantities: item, kg, g, tonne, litre, ml, m3, m, km, m2, hour, day, week, "
                     "month, kWh, meal… (default: item)"),
    "available": ("NUMBER", "an offer's stock, in --unit"),
    "minimum": ("NUMBER", "an offer's minimum order, in --unit"),
    "unit_based": ("yes|no", "an offer sold in whole lots of --quantity"),
    "starts": ("DATE", "start of the window, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"),
    "ends": ("DATE", "end of the window: the need or offer expires then (required)"),
    "due": ("DATE", "when it must be delivered or done (it may fall after the window closes)"),
    "recurrence": ("RULE", "ISO 8601 repeating interval, e.g. R/P1W for every week"),
    "area_latitude": ("DEGREES", "centre of the area it holds in (default: the actor's location)"),
    "area_longitude": ("DEGREES", "centre of the area it holds in (default: the actor's location)"),
    "radius_km": ("KM", "radius of the area (default 30 around the actor's location)"),
    "area_name": ("TEXT", "name of the area, e.g. Preston"),
    "location": ("TEXT", "delivery point of a need, dispatch point of an offer (an address)"),
    "location_latitude": ("DEGREES", "latitude of --location"),
    "location_longitude": ("DEGREES", "longitude of --location"),
    "price": ("AMOUNT", "an offer's price or a need's budget (0 for free)"),
    "currency": ("CODE", "GBP (default), EUR or USD"),
    "exchange": ("TEXT", "what is given back, in words (instead of or besides a price)"),
    "status": ("STATUS", "open (default), fulfilled or expired"),
    "hashtags": ("TAG", "extra hashtag(s) without # (repeatable or comma-separated)"),
}

def add_field_options(parser: argparse.ArgumentParser, title: str) -> None:
    parser.add_argument("--file", type=Path, metavar="FILE",
                        help="a YAML (or .json) mapping of field names to values, e.g. 'title: School meals'")
    group = parser.add_argument_group(title)
    for name in FIELDS:
        metavar, help_text = FIELD_HELP[name]
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}", metavar=metavar, help=help_text,
                           default=None, action="append" if name in LIST_FIELDS else "store")



def fields_from(args: argparse.Namespace) -> dict:
    """The fields of --file, overridden by the flags given (an empty flag value stays: it clears on update)."""
    values = read_fields_file(args.file) if args.file is not None else {}
    for name in FIELDS:
        given = getattr(args, f"field_{name}")
        if given is not None:
            values[name] = split_list(given) if name in LIST_FIELDS else given
    return values


def split_list(values: list[str]) -> list[str]:
    return [part for value in values for part in re.split(r"[\s,;]+", value) if part]


def read_fields_file(path: Path) -> dict:
    """A YAML or JSON mapping of field names (`area_latitude` or `area-latitude`) to values."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} cannot be read as UTF-8 text: {error}") from None
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml.load(text, Loader=_yaml_loader_keeping_text(yaml))
    except (ValueError, yaml.YAMLError) as error:
        raise UsageError(f"{path} is not valid {'JSON' if is_json else 'YAML'}: {_one_line(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a mapping of field names to values (e.g. 'title: School meals'), "
                         f"not a {type(data).__name__}")
    values = {}
    for key, value in data.items():
        name = str(key).strip().replace("-", "_")
        values[name] = _file_value(name, value)
    return values


def _file_value(name: str, value):
    """Codes and tags written as JSON numbers (`"cpv": 55520000`) are text to the model."""
    if name not in LIST_FIELDS:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return [str(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item
                for item in value]
    return value


def _yaml_loader_keeping_text(yaml):
    """Safe YAML in which numbers and dates stay text, as from flags: `03221000` is a CPV code (not octal),
    `2.40` a price (not a float), `2027-03-31` a day (not a datetime without a zone)."""
    as_text = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in as_text]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return Loader


def _one_line(error: Exception) -> str:
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(error).split())
