"""The ground floor: what every other package may import and which imports none of them.

``errors`` (the one-line input error), ``progress`` (log lines for long work) and
``files`` (atomic writes of local files). Nothing here imports ``schemas``,
``clustering`` or ``jobs``.
"""
