"""Handoff domain."""
