"""Routers: health (unversioned), models and queries (under /v1)."""
