"""Deterministic, LLM-free chat model: text understanding for pt-BR and English customers."""
