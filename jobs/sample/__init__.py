"""Stage 1, sample: weekly no-click image queries, filtered, stratified, with context.

Modules in data-flow order: :mod:`logs` (read and quarantine), :mod:`noclick`,
:mod:`bots`, :mod:`quality`, :mod:`filters`, :mod:`context`, :mod:`stratify`,
and :mod:`run` (the one function that CLI, demo, DAG and spark-submit call).
"""
