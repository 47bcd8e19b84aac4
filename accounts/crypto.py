"""Encryption at rest for broker secrets: MultiFernet over FIELD_ENCRYPTION_KEYS, with rotation."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must hold at least one Fernet key")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid key: {error}") from None


def fernet() -> MultiFernet:
    """The first key encrypts; every key decrypts (so old ciphertext survives a new key)."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: keep the old key in "
            "the list until `manage.py rotate_encryption_keys` has re-encrypted everything."
        ) from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the first (newest) key."""
    return fernet().rotate(ciphertext.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; Python code sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
