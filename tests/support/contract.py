"""The OpenAPI contract as tests read it: which operation answers a request, which statuses and problem
codes it documents. Every response through the suite's client is checked against it (tests/conftest.py),
and fuzzing checks can reuse `documented_codes` / `undocumented`."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from app.api.problems import PROBLEM_JSON

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


@cache
def spec() -> dict[str, Any]:
    """The committed document (`make openapi-check` keeps it equal to what the app serves)."""
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@cache
def _patterns(paths: tuple[str, ...]) -> list[tuple[re.Pattern[str], str]]:
    # Literal segments before parameters: `/actions/request_cos` wins over any `{...}` sibling.
    def pattern(template: str) -> re.Pattern[str]:
        parts = ("[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/"))
        return re.compile("^" + "/".join(parts) + "$")

    return [(pattern(p), p) for p in sorted(paths, key=lambda p: (p.count("{"), p))]


def operation_for(document: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The documented operation (path template, operation) answering `method path`, if any."""
    for pattern, template in _patterns(tuple(document["paths"])):
        operation = document["paths"][template].get(method.lower())
        if operation is not None and pattern.match(path):
            return template, operation
    return None


def documented_codes(operation: dict[str, Any], status: int) -> frozenset[str]:
    """The problem codes an operation documents for a status (empty when the status is undocumented)."""
    response = operation["responses"].get(str(status), {})
    return frozenset(response.get("content", {}).get(PROBLEM_JSON, {}).get("examples", {}))


def undocumented(document: dict[str, Any], method: str, path: str, response: httpx.Response) -> str | None:
    """What about this answer the contract does not document, or None (also for undocumented paths)."""
    found = operation_for(document, method, path)
    if found is None:
        return None
    template, operation = found
    status = response.status_code
    where = f"{method} {template} answered {status}"
    if str(status) not in operation["responses"]:
        return f"{where}, a status it does not document"
    documented_headers = operation["responses"][str(status)].get("headers", {})
    promised = {"ETag", "Location", "X-Request-ID", "Retry-After"} & set(documented_headers)
    missing = {name for name in promised if name not in response.headers}
    if missing:
        return f"{where} without the headers it documents: {sorted(missing)}"
    if response.headers.get("content-type") != PROBLEM_JSON:
        return None
    code = response.json().get("code")
    if code not in documented_codes(operation, status):
        return f"{where} {code!r}, a code it does not document"
    reasons = {r["code"] for r in response.json().get("reasons") or ()}
    declared = operation.get("x-refusal-reasons")
    if code == "action_refused" and declared is not None and not operation.get("x-refusal-reasons-include-eligibility"):
        missing = reasons - set(declared)
        if missing:
            return f"{where} action_refused with reasons {sorted(missing)} it does not document"
    return None
