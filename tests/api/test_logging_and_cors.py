"""Structured logs carry the request id; browsers from configured origins may call the API."""

from __future__ import annotations

import json
import logging

import pytest
from httpx import ASGITransport, AsyncClient

from app.api.request_context import configure_logging
from app.config import LogFormat
from app.main import create_app
from tests.support.databases import make_settings


async def test_every_log_line_of_a_request_carries_its_request_id(
    client: AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", LogFormat.json)
    try:
        await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().handlers.clear()
    access = [line for line in lines if line.get("path") == "/healthz"]
    assert access and all(line["request_id"] == "trace-42" for line in access)
    assert access[0]["status"] == 200 and "duration_ms" in access[0]
    assert access[0]["level"] == "INFO" and access[0]["logger"] == "sponsorflow.access"
    assert access[0]["message"] == "GET /healthz 200" and access[0]["time"][:2] == "20"


def test_an_error_line_is_one_json_object_with_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", LogFormat.json)
    try:
        try:
            raise ValueError("the cause")
        except ValueError:
            logging.getLogger("sponsorflow.errors").exception("unhandled error")
        (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        logging.getLogger().handlers.clear()
    assert line["level"] == "ERROR" and line["message"] == "unhandled error" and line["request_id"] == "-"
    assert 'raise ValueError("the cause")' in line["exc_info"] and "ValueError: the cause" in line["exc_info"]


async def test_cors_allows_the_configured_origins_only(db, clock) -> None:  # type: ignore[no-untyped-def]
    url = db.url.render_as_string(hide_password=False)
    app = create_app(make_settings(url, cors_origins=["https://hr.example.com"]), clock=clock, engine=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        preflight = {"Access-Control-Request-Method": "POST"}
        ok = await c.options("/v1/hires", headers=preflight | {"Origin": "https://hr.example.com"})
        other = await c.options("/v1/hires", headers=preflight | {"Origin": "https://evil.example.com"})
    assert ok.headers["access-control-allow-origin"] == "https://hr.example.com"
    assert "access-control-allow-origin" not in other.headers
