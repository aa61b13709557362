"""``intentmine ontology propose``: stage 5 from the command line."""

from __future__ import annotations

from pathlib import Path

from jobs.common.actions import add_source_arguments, check_source


def register(subparsers) -> None:
    ontology = subparsers.add_parser("ontology", help="ontology files: propose one from actions")
    actions = ontology.add_subparsers(dest="ontology_action", required=True, metavar="ACTION",
                                      parser_class=type(ontology))
    propose = actions.add_parser(
        "propose", help="propose main categories, subcategories and keywords from unlabelled actions",
        description="Propose an ontology from the week's signals (--root, --week) or an actions file; "
                    "'data' clusters embeddings (no model server), 'vllm' asks the reasoning LLM.")
    add_source_arguments(propose)
    propose.add_argument("--out", type=Path, required=True, help="ontology YAML to write")
    propose.add_argument("--backend", choices=["data", "vllm"], default="data",
                         help="data: embedding clusters named by their distinctive terms (default)")
    propose.set_defaults(func=run)


def run(args) -> int:
    from jobs.common.settings import get_settings
    from jobs.ontology.stage import propose_to_file

    check_source(args, "ontology propose", needs_out=False)
    summary = propose_to_file(args.out, get_settings(), args.backend, args.actions, args.root, args.week)
    print("ontology propose: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
