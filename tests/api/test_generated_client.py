"""A client generated from openapi/openapi.json with openapi-python-client (what a frontend team does)
drives a hire from the licence to `closed`: one typed method per action, Idempotency-Key and If-Match
as parameters, and a refusal parsed into the Problem model. No hand-written HTTP."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import pytest
from httpx import ASGITransport

from app.clock import FrozenClock
from tests.support.casework import SOFTWARE_ENGINEER, journey
from tests.support.contract import SPEC_PATH
from tests.support.tenants import Tenant

PACKAGE = "sponsorflow_client"
DAY = "2026-03-02"  # the hire's start date: every step of the journey happens on it


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated once for the module."""
    out = tmp_path_factory.mktemp("client")
    config = out / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    command = [generator, "generate", "--path", SPEC_PATH, "--meta", "none", "--config", config]
    subprocess.run(
        [*command, "--output-path", out / PACKAGE],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _api(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _body_of(method: ModuleType, data: dict[str, Any]) -> Any:
    """The operation's own typed body model, filled from plain data."""
    model = get_type_hints(method.asyncio_detailed)["body"]
    return model.from_dict(data)


async def test_a_generated_client_takes_a_hire_from_licence_to_closed(
    generated: ModuleType, app, tenant: Tenant, clock: FrozenClock  # type: ignore[no-untyped-def]
) -> None:
    clock.set(clock.now().replace(year=2026, month=3, day=2))
    client = generated.AuthenticatedClient(
        base_url="http://test", token=tenant.keys["admin"], httpx_args={"transport": ASGITransport(app=app)}
    )
    models = importlib.import_module(f"{PACKAGE}.models")
    Problem = models.Problem

    created = await _api("licence.create_licence_application").asyncio_detailed(client=client)
    assert created.status_code == 201
    etag = created.headers["etag"]
    submit, grant = _api("licence.licence_submit"), _api("licence.licence_grant")
    r = await submit.asyncio_detailed(client=client, body=_body_of(submit, {}), if_match=etag)
    r = await grant.asyncio_detailed(
        client=client, body=_body_of(grant, {"licence_number": "LIC-0001"}), if_match=r.headers["etag"]
    )
    assert r.status_code == 200 and r.parsed.state == "active"

    create = _api("hires.create_hire")
    r = await create.asyncio_detailed(client=client, body=_body_of(create, SOFTWARE_ENGINEER | {"inside_uk": False}))
    assert r.status_code == 201, r.content
    hire_id, etag = r.parsed.id, r.headers["etag"]
    for action, payload in journey(DAY):
        method = _api(f"hires.hire_{action}")
        body, key = _body_of(method, payload), str(uuid.uuid4())
        r = await method.asyncio_detailed(hire_id, client=client, body=body, if_match=etag, idempotency_key=key)
        assert r.status_code == 200, r.content
        if action == "request_cos":  # a retry with the same key is answered from the first
            again = await method.asyncio_detailed(hire_id, client=client, body=body, if_match=etag, idempotency_key=key)
            assert again.headers["idempotent-replayed"] == "true" and again.parsed.state == r.parsed.state
        etag = r.headers["etag"]
    assert r.parsed.state == "sponsorship_ended"

    close = _api("hires.hire_close")
    refused = await close.asyncio_detailed(hire_id, client=client, body=_body_of(close, {}), if_match=etag)
    assert refused.status_code == 409 and isinstance(refused.parsed, Problem)
    assert refused.parsed.code == "action_refused"
    assert [reason.code for reason in refused.parsed.reasons] == ["open_obligations"]

    owed = await _api("obligations.list_obligations").asyncio_detailed(client=client, hire_id=hire_id)
    report = _api("obligations.report_obligation")
    for obligation in owed.parsed.data:
        done = await report.asyncio_detailed(
            obligation.id,
            client=client,
            body=_body_of(report, {"sms_reference": "SMS-1"}),
            if_match=f'"{obligation.version}"',
        )
        assert done.status_code == 200, done.content
    stale = await close.asyncio_detailed(hire_id, client=client, body=_body_of(close, {}), if_match='"1"')
    assert stale.status_code == 412 and stale.parsed.code == "precondition_failed"
    etag = stale.headers["etag"]  # the current version comes back with the refusal
    closed = await close.asyncio_detailed(hire_id, client=client, body=_body_of(close, {}), if_match=etag)
    assert closed.status_code == 200 and closed.parsed.state == "closed"
    await client.get_async_httpx_client().aclose()
