"""Stage 5, the ontology: which version a week is assigned against, and proposals of new ones.

``propose`` is the one interface to the two backends (``data``: embedding clusters of
the actions, named from their text, no model; ``vllm``: the reasoning LLM); ``stage``
picks the week's version from the registry's series (proposing the first one).
"""
