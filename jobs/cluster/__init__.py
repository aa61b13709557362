"""Stage 6 (cluster) and the data-driven half of stage 5 (ontology proposal)."""
