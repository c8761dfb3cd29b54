"""Public identifiers: a type prefix and a time-ordered random part, so keyset paging by id follows
creation order and an id says what it names (`hire_...`, `org_...`)."""

from __future__ import annotations

import os
import time


def new_id(prefix: str) -> str:
    # UUIDv7 layout (48-bit milliseconds, then randomness), written as 32 hex digits.
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{millis:012x}{os.urandom(10).hex()}"
