"""Helpers for goalgraph's tests and for plugin authors' tests."""
