"""``intentmine cluster`` and ``intentmine ontology propose`` (SPEC "Command line")."""

from __future__ import annotations

from pathlib import Path

from jobs.common.errors import InputError


def register(subparsers) -> None:
    cluster = subparsers.add_parser(
        "cluster", help="assign actions to the ontology (two levels) and cluster the rest",
        description="Either the week's signals (--root, --week; publishes assignments and clusters) "
                    "or an actions file (--actions, --out; one row per input row, in order).")
    _source_arguments(cluster)
    cluster.add_argument("--ontology", type=Path, required=True, help="ontology YAML (SPEC 'Ontology file')")
    cluster.add_argument("--out", type=Path, help="output Parquet for --actions")
    cluster.add_argument("--method", choices=["paper", "best"], default=None,
                         help="'paper': the paper's method exactly; 'best': the measured improvements "
                              "(default: settings cluster.method)")
    cluster.set_defaults(func=run_cluster)

    ontology = subparsers.add_parser("ontology", help="ontology files: propose one from actions")
    actions = ontology.add_subparsers(dest="ontology_action", required=True, metavar="ACTION",
                                      parser_class=type(ontology))
    propose = actions.add_parser(
        "propose", help="propose main categories, subcategories and keywords from unlabelled actions",
        description="Propose an ontology from the week's signals (--root, --week) or an actions file; "
                    "'data' clusters embeddings (no model server), 'vllm' asks the reasoning LLM.")
    _source_arguments(propose)
    propose.add_argument("--out", type=Path, required=True, help="ontology YAML to write")
    propose.add_argument("--backend", choices=["data", "vllm"], default="data",
                         help="data: embedding clusters named by their distinctive terms (default)")
    propose.set_defaults(func=run_propose)


def _source_arguments(parser) -> None:
    parser.add_argument("--root", type=Path, help="warehouse root (with --week)")
    parser.add_argument("--week", help="ISO week, e.g. 2026-W47 (with --root)")
    parser.add_argument("--actions", type=Path,
                        help=".txt (one per line) or .csv/.parquet with a column 'action'")


def _source(args, command: str, needs_out: bool) -> None:
    """Exactly one input form: --actions FILE, or --root DIR with --week W."""
    by_file = args.actions is not None
    by_week = args.root is not None or args.week is not None
    if by_file == by_week:
        raise InputError(f"{command}: give either --actions FILE or --root DIR --week W")
    if by_week and (args.root is None or args.week is None):
        raise InputError(f"{command}: --root and --week go together")
    if needs_out and by_file and args.out is None:
        raise InputError(f"{command}: --actions needs --out OUT.parquet")
    if needs_out and by_week and args.out is not None:
        raise InputError(f"{command}: --out is for --actions; with --root the tables are published")


def run_cluster(args) -> int:
    from jobs.cluster.run import cluster_file, cluster_week
    from jobs.common.settings import get_settings

    _source(args, "cluster", needs_out=True)
    settings = get_settings()
    if args.actions is not None:
        summary = cluster_file(args.actions, args.ontology, args.out, settings, args.method)
    else:
        summary = cluster_week(args.root, args.week, args.ontology, settings, args.method)
    print("cluster: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def run_propose(args) -> int:
    from jobs.cluster.run import propose
    from jobs.common.settings import get_settings

    _source(args, "ontology propose", needs_out=False)
    summary = propose(args.out, get_settings(), args.backend, args.actions, args.root, args.week)
    print("ontology propose: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
