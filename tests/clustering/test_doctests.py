"""The examples in the clustering docstrings run and give what they show."""

import doctest
import importlib

import pytest

MODULES = ["clustering.tokens", "clustering.scores", "clustering.fallback", "clustering.nonchaining"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
