"""Stage 6, cluster: the two-level assignment of a week's actions and the cluster tree."""
