"""Typed tools, one package per domain, with the domain services they call."""
