"""Versioned expert rules (``expert_rules.yaml``); loaded by :mod:`jobs.analyse.expert_rules`.

Read through :mod:`importlib.resources`, so the rules load from a zip shipped to Spark
executors as well as from a folder.
"""

from importlib import resources

EXPERT_RULES_FILE = resources.files(__name__).joinpath("expert_rules.yaml")
