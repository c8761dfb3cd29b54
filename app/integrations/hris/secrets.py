"""Signing secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

A receiver must recompute the HRIS's HMAC, so the secret is needed in clear: it cannot be hashed like an
API key. It is encrypted with the keys in `SPONSORFLOW_HRIS_ENCRYPTION_KEYS` (MultiFernet: the first
encrypts, any of them decrypts, so the encryption key itself can be rotated) and decrypted only to
verify a delivery. The database alone does not reveal a secret.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, MultiFernet
from pydantic import SecretStr
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from app.errors import FieldError, ProblemError

#: Providers whose secrets are Standard Webhooks secrets (`whsec_` + base64 of 24 to 64 random bytes).
_WHSEC = frozenset({"standard", "finch"})
_MIN_SECRET_LENGTH = 16


class SecretBox:
    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._fernet = MultiFernet([Fernet(key.get_secret_value()) for key in keys])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()


def generate_secret(provider: str) -> str:
    if provider in _WHSEC:
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


def check_given_secret(provider: str, secret: str) -> None:
    """A secret pasted from the HRIS must be one its scheme can use; 422 otherwise."""
    problem = None
    if provider in _WHSEC:
        try:
            Webhook(secret)
        except (binascii.Error, ValueError, EmptyWebhookSecretError):
            problem = "a Standard Webhooks secret is `whsec_` followed by base64"
    elif len(secret) < _MIN_SECRET_LENGTH:
        problem = f"a signing secret has at least {_MIN_SECRET_LENGTH} characters"
    if problem is not None:
        raise ProblemError(
            422,
            "validation_error",
            "the signing secret cannot be used",
            errors=[FieldError(loc=["body", "signing_secret"], message=problem, type="value_error")],
        )
