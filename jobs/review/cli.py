"""``intentmine review``: list tools and record approve / reject / rename / merge / retire.

Decisions are validated against the registry with the pending decisions applied,
stored in ``review_decisions`` with who, when and why, and take effect at the next
``intentmine tools`` run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
from pathlib import Path


def register(subparsers) -> None:
    review = subparsers.add_parser(
        "review", help="list proposed tools; approve, reject, rename, merge or retire one",
        description=__doc__.splitlines()[0])
    review.add_argument("--root", type=Path, required=True, help="warehouse root")
    review.add_argument("--week", default=None,
                        help="the week whose tool list is reviewed (default: the newest week with tools)")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--reviewer", default=None, help="who decides (default: the login name)")
    who.add_argument("--reason", default=None, help="why, stored with the decision")
    who.add_argument("--decision-id", default=None, help="idempotency key (default: derived)")
    actions = review.add_subparsers(dest="review_action", required=True, metavar="ACTION",
                                    parser_class=type(review))
    listing = actions.add_parser("list", help="every tool with its status, share and pending decisions")
    listing.add_argument("--sort", choices=["index", "share", "title", "status"], default="index")
    listing.add_argument("--status", choices=["proposed", "approved", "rejected", "retired"], default=None,
                         help="only tools with this status (after pending decisions)")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    ident = "tool id (t-…) or index"
    for name, text in (("approve", "approve a tool"), ("reject", "reject a tool"), ("retire", "retire a tool")):
        actions.add_parser(name, parents=[who], help=text).add_argument("tool_id", metavar="ID", help=ident)
    rename = actions.add_parser("rename", parents=[who], help="give a tool a new title")
    rename.add_argument("tool_id", metavar="ID", help=ident)
    rename.add_argument("value", metavar="TITLE")
    merge = actions.add_parser("merge", parents=[who], help="merge a tool into another")
    merge.add_argument("tool_id", metavar="ID", help=ident)
    merge.add_argument("value", metavar="INTO_ID", help="the surviving tool's id or index")
    review.set_defaults(func=run_review)


def run_review(args) -> int:
    from jobs.review.actions import decide, listing

    if args.review_action == "list":
        print(listing(args.root, args.week, args.sort, args.status, args.json))
        return 0
    decision = {"tool_id": args.tool_id, "action": args.review_action, "value": getattr(args, "value", None),
                "reviewer": args.reviewer or _login(), "reason": args.reason,
                "ts": dt.datetime.now(dt.timezone.utc), "decision_id": args.decision_id}
    print(decide(args.root, decision, args.week))
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
