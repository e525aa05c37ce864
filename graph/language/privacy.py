"""LGPD requests in pt-BR and en: "apague meus dados", "quero uma cópia dos meus dados", "delete my data"."""

from __future__ import annotations

import re

from graph.language.text import normalize

# normalized (no accents, no apostrophes); erasure first: "apague meus dados" also says "meus dados"
ERASE = (
    *("apague meus dados", "apaga meus dados", "apagar meus dados", "apaguem meus dados", "apague os meus dados"),
    *("exclua meus dados", "exclui meus dados", "excluir meus dados", "excluam meus dados", "deletar meus dados"),
    *("delete meus dados", "deleta meus dados", "remova meus dados", "remover meus dados", "esquece meus dados"),
    *("esqueca meus dados", "esquecam meus dados", "esqueca de mim", "apague meu cadastro", "apaga meu cadastro"),
    *("excluir meu cadastro", "exclua meu cadastro", "apagar meu cadastro", "apague tudo sobre mim"),
    *("delete my data", "erase my data", "remove my data", "delete all my data", "delete my account"),
    *("forget me", "forget my data", "erase everything about me", "delete everything about me"),
)
EXPORT = (
    *("copia dos meus dados", "copia de meus dados", "copia de todos os meus dados", "exportar meus dados"),
    *("exporta meus dados", "me manda meus dados", "me envia meus dados", "manda meus dados", "quais dados"),
    *("que dados voces tem", "que dados vcs tem", "meus dados pessoais", "baixar meus dados"),
    *("send me my data", "copy of my data", "export my data", "my personal data", "what data do you have"),
    *("download my data", "give me my data"),
)
# what the notice tells customers to write: alone, it asks for the data ("meus dados estão errados" doesn't)
_ALONE = ("meus dados", "quero meus dados", "my data", "i want my data")
_PUNCTUATION = re.compile(r"[,;:!?()\"]|\.(?=\s|$)")


def _has_any(text: str, phrases: tuple[str, ...]) -> bool:
    norm = f" {_PUNCTUATION.sub(' ', normalize(text))} "
    return any(f" {phrase} " in norm for phrase in phrases)


def privacy_request(text: str) -> str | None:
    """ "erase" or "export" when the text asks for the customer's data or its erasure, else None."""
    if _has_any(text, ERASE):
        return "erase"
    if _has_any(text, EXPORT) or normalize(text).strip(" .!?") in _ALONE:
        return "export"
    return None
