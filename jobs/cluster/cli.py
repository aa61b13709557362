"""``intentmine cluster``: stage 6 from the command line."""

from __future__ import annotations

from pathlib import Path

from jobs.common.actions import add_source_arguments, check_source


def register(subparsers) -> None:
    cluster = subparsers.add_parser(
        "cluster", help="assign actions to the ontology (two levels) and cluster the rest",
        description="Either the week's signals (--root, --week; publishes assignments and clusters) "
                    "or an actions file (--actions, --out; one row per input row, in order).")
    add_source_arguments(cluster)
    cluster.add_argument("--ontology", type=Path, required=True, help="ontology YAML (docs/ontology.md)")
    cluster.add_argument("--out", type=Path, help="output Parquet for --actions")
    cluster.add_argument("--method", choices=["paper", "best"], default=None,
                         help="'paper': the paper's method exactly; 'best': the measured improvements "
                              "(default: settings cluster.method)")
    cluster.set_defaults(func=run)


def run(args) -> int:
    from jobs.cluster.stage import cluster_file, cluster_week
    from jobs.common.settings import get_settings

    check_source(args, "cluster", needs_out=True)
    settings = get_settings()
    if args.actions is not None:
        summary = cluster_file(args.actions, args.ontology, args.out, settings, args.method)
    else:
        summary = cluster_week(args.root, args.week, args.ontology, settings, args.method)
    print("cluster: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
