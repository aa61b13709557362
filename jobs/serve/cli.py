"""``intentmine serve`` (the explore-and-review web app) and ``intentmine sql`` (DuckDB over the latest runs)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="the explore-and-review web app over a warehouse",
        description="Serve the web app: explore the week's clusters down to each query, and review tools "
                    "(decisions go to the same review log as 'intentmine review').")
    serve.add_argument("--root", type=Path, required=True, help="warehouse root")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8750, help="port (default 8750)")
    serve.add_argument("--logs", type=Path, default=None,
                       help="logs folder the photos are read from (default: the one the week was sampled from)")
    serve.set_defaults(func=run_serve)
    sql = subparsers.add_parser(
        "sql", help="run SQL (DuckDB) over the latest run of every table",
        description="One view per table over each week's latest complete run (review_decisions: every "
                    "decision; tool_lists: every list version). Without a query, list the views.")
    sql.add_argument("--root", type=Path, required=True, help="warehouse root")
    sql.add_argument("query", nargs="?", default=None, help="a SQL query, e.g. \"SELECT count(*) FROM signals\"")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of an aligned table")
    sql.set_defaults(func=run_sql_command)


def run_serve(args) -> int:
    from core.errors import InputError
    from jobs.serve.stage import serve

    if not args.root.is_dir():
        raise InputError(f"--root {args.root}: no such folder")
    print(f"intentmine app on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(args.root, args.host, args.port, args.logs)
    return 0


def run_sql_command(args) -> int:
    from jobs.serve.sql import connect, run_sql, views

    if args.query is None:
        print("views: " + ", ".join(views(connect(args.root))))
        return 0
    out = run_sql(args.root, args.query, args.csv)
    print(out, end="" if out.endswith("\n") or not out else "\n")
    return 0
