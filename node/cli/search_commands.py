"""`coopnode search` (the commons' needs and offers by words, CPV branch, place, window, kind and hub) and
`coopnode matches ACTOR` (an organisation's open needs and offers with their ranked matches), as aligned lines or
as the JSON API's documents."""

import argparse
import json
import time

from node.cli.common import UsageError, day, hosted_actor, opened_node
from node.commons import index
from node.commons.search import matches
from node.commons.search import BadSearch, SearchResults, organisation_iri, query_from, search
from node.commons.search.query import DEFAULT_KM, MAX_LIMIT, PAGE_SIZE
from node.runtime import Runtime
from node.store.data_dir import is_served
from vocab.cpv import CpvList

FLAGS = {"q": "--text", "from": "--from", "to": "--to", "all": "--all"}  # the others are --NAME
TITLE_WIDTH = 44
AUTHOR_WIDTH = 28


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    finder = commands_parsers.add_parser(
        "search", parents=[data_option], help="search the commons' needs and offers",
        description="Search the needs and offers of the commons (this node's and those it gathered from the nodes "
                    "it follows). Every filter given must hold; open ones only unless --all.")
    finder.add_argument("--text", metavar="WORDS", help="words that must all appear (potato also finds potatoes)")
    finder.add_argument("--cpv", metavar="CODE", help="a CPV code or branch: 03000000 (or 03) finds 03212100")
    finder.add_argument("--near", metavar="ORG", help="near an organisation of the commons (username or IRI)")
    finder.add_argument("--lat", metavar="DEGREES", help="near this point (with --lon)")
    finder.add_argument("--lon", metavar="DEGREES", help="near this point (with --lat)")
    finder.add_argument("--km", metavar="KM", help=f"how near, in km (default {DEFAULT_KM:g})")
    finder.add_argument("--from", dest="starts", metavar="DAY", help="open at some time on or after DAY (YYYY-MM-DD)")
    finder.add_argument("--to", dest="ends", metavar="DAY", help="open at some time on or before DAY (YYYY-MM-DD)")
    finder.add_argument("--kind", choices=("need", "offer"), help="needs or offers only")
    finder.add_argument("--hub", metavar="HUB", help="a hub's members' and re-shared ones (username or IRI)")
    finder.add_argument("--all", action="store_true", help="also the fulfilled and expired ones")
    finder.add_argument("--limit", metavar="N", default=str(PAGE_SIZE),
                        help=f"results per page, 1 to {MAX_LIMIT} (default {PAGE_SIZE})")
    finder.add_argument("--page", metavar="N", default="1", help="which page (default 1)")
    finder.add_argument("--json", action="store_true", help="print the JSON the API answers /commons/search with")
    finder.set_defaults(handler=search_command)

    ranked = commands_parsers.add_parser(
        "matches", parents=[data_option], help="an organisation's open needs and offers with their matches",
        description="Each open need and offer of an organisation with its matches in the commons, best first: "
                    "score, the other proposal, who, and why. Matches are derived from public needs and offers; "
                    "they are not federated.")
    ranked.add_argument("actor", metavar="ACTOR", help="a local username, or the IRI of an organisation of the commons")
    ranked.add_argument("--min-score", type=_score, default=0.0, metavar="S",
                        help="only matches scoring S (0 to 1) or more")
    ranked.add_argument("--json", action="store_true", help="print the JSON the API answers /actors/NAME/matches with")
    ranked.set_defaults(handler=matches_command)


def _score(value: str) -> float:
    try:
        score = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= score <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not from 0 to 1")
    return score


def _flag_error(problem: BadSearch) -> UsageError:
    return UsageError(f"{FLAGS.get(problem.field, '--' + problem.field)}: {problem.reason}")


async def gathered(node: Runtime) -> None:
    """Bring the commons up to date first, unless a serving node does (it gathers within moments of a write)."""
    if not is_served(node.config.data_dir):
        await node.commons.gatherer.catch_up()


async def search_command(args: argparse.Namespace) -> int:
    values = {"q": args.text, "cpv": args.cpv, "near": args.near, "lat": args.lat, "lon": args.lon, "km": args.km,
              "from": args.starts, "to": args.ends, "kind": args.kind, "hub": args.hub,
              "all": "true" if args.all else None, "limit": args.limit, "page": args.page}
    try:
        query = query_from(values, CpvList.bundled())
    except BadSearch as problem:
        raise _flag_error(problem) from None
    async with opened_node(args) as node:
        await gathered(node)
        try:
            results = await search(node.db, query, node.urls)
        except BadSearch as problem:
            raise _flag_error(problem) from None
    if args.json:
        print(json.dumps(results.as_json(), ensure_ascii=False, indent=2))
    else:
        print_results(results)
    return 0


def print_results(results: SearchResults) -> None:
    if not results.results:
        print("No needs or offers found." if results.total == 0 else
              f"No results on this page ({results.total} in all).")
        return
    near = results.query.is_near
    header = ["KIND ", "BEST", *(["KM    "] if near else []), "ENDS      ", _cell("TITLE", TITLE_WIDTH),
              _cell("FROM", AUTHOR_WIDTH), "IRI"]
    print("  ".join(header))
    for found in results.results:
        best = "-   " if found.best_score is None else f"{found.best_score:.2f}"
        distance = [f"{found.distance_km:<6.1f}"] if near else []
        print("  ".join([f"{found.kind:<5}", best, *distance, f"{day(found.ends_at):<10}",
                         _cell(found.title, TITLE_WIDTH), _cell(found.author_name, AUTHOR_WIDTH), found.iri]))
    first = results.query.offset + 1
    scope = "" if results.query.include_closed else " (open ones; --all for the fulfilled and expired too)"
    print(f"{first}-{first + len(results.results) - 1} of {results.total}{scope}; BEST is the best match's score")


def _cell(text: str, width: int) -> str:
    text = " ".join(text.split())
    return (text if len(text) <= width else text[:width - 1] + "…").ljust(width)


async def matches_command(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        await gathered(node)
        actor = await _actor(node, args.actor)
        listed = await matches.actor_matches(node.db, actor["iri"], now=int(time.time()), min_score=args.min_score)
    if args.json:
        print(json.dumps(matches.actor_matches_json(actor, listed), ensure_ascii=False, indent=2))
        return 0
    if not listed:
        print(f"{actor['name']} has no open needs or offers in the commons.")
        return 0
    why_width = max((len(match.explanation) for _, ranked in listed for match in ranked), default=0)
    for item, ranked in listed:
        print(f"{item.kind.capitalize():<5}  {item.title}  (until {day(item.ends_at)})  {item.iri}")
        if not ranked:
            print("       no matches" + (f" scoring {args.min_score:g} or more" if args.min_score else "") + " yet")
        for match in ranked:
            print("  ".join(["      ", f"{match.score:.2f} {match.words:<6}", _cell(match.other.title, TITLE_WIDTH),
                             _cell(match.other.author_name, AUTHOR_WIDTH), match.explanation.ljust(why_width),
                             match.other.iri]))
    return 0


async def _actor(node: Runtime, reference: str) -> dict:
    """The organisation ACTOR names: a hosted actor by username, or any organisation of the commons by IRI."""
    if not reference.startswith(("https://", "http://")):
        found = await hosted_actor(node.db, reference.lstrip("@"))
        return {"iri": node.urls.actor(found.username), "username": found.username, "name": found.profile.name}
    row = await index.organisation(node.db, organisation_iri(reference, node.urls))
    if row is None:
        raise UsageError(f"{reference!r} is not an organisation of the commons (a local username, or the IRI of an "
                         "actor this node follows or keeps needs and offers of)")
    return {"iri": row["iri"], "username": node.urls.username_from_actor_iri(row["iri"]), "name": row["name"]}
