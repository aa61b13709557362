"""Stage 2: the near-duplicate image cache (global feature + vector index kept across weeks)."""
