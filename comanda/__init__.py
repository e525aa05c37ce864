"""Comanda: the composition root (settings, CLI, wiring of the embedded and production parts)."""
