"""Restaurants' payment secrets at rest: sealed with a key-encryption key when one is configured (Fernet), plain
otherwise (the embedded mode). A sealed value says so, so turning encryption on later still reads old values."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

SEALED = "fernet:"


class KeyBox:
    """Seals and opens secrets with the configured key (or keeps them as they are without one)."""

    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    @property
    def seals(self) -> bool:
        """Whether new secrets are stored encrypted."""
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        """The value to store."""
        if self._fernet is None:
            return secret
        return SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret from its stored value."""
        if not stored.startswith(SEALED):
            return stored
        if self._fernet is None:
            raise ValueError("this secret is encrypted: set COMANDA_ASAAS_KEY_ENCRYPTION_KEY to read it")
        try:
            return self._fernet.decrypt(stored[len(SEALED) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("this secret was encrypted with another COMANDA_ASAAS_KEY_ENCRYPTION_KEY") from exc


def new_key() -> str:
    """A fresh key-encryption key (for the README's instructions)."""
    return Fernet.generate_key().decode()
