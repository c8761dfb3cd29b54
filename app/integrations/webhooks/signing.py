"""Standard Webhooks signing secrets and signatures (through the `standardwebhooks` package)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    """A `whsec_` secret: 32 random bytes, base64, as Standard Webhooks libraries read it."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secrets_in_use: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,...` per secret, space-separated (two during a rotation)."""
    # standardwebhooks replaces the timestamp's tzinfo with UTC: hand it UTC, never local time.
    at = timestamp.astimezone(UTC)
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets_in_use)


def headers(secrets_in_use: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature(secrets_in_use, msg_id, timestamp, body),
        "content-type": "application/json",
    }
