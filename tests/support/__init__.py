"""Shared test helpers: a real redis-server, and the every-job-in-one-state invariant."""
