"""Kept for plugins written against goalgraph 0.1: the errors live in :mod:`goalgraph.errors`."""

from goalgraph.errors import FactError, IngestRejected, Path

__all__ = ["FactError", "IngestRejected", "Path"]
