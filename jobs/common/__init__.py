"""Shared plumbing: settings, storage, Spark session, logging."""
