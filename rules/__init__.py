"""Versioned expert rules (``expert_rules.yaml``); loaded by :mod:`jobs.analyse.expert_rules`."""

from pathlib import Path

EXPERT_RULES_FILE = Path(__file__).resolve().parent / "expert_rules.yaml"
