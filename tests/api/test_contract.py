"""The OpenAPI document is the contract generated clients are built from: one operation per workflow
action with its own body, the headers each operation reads, and every status and problem code the
server can answer, documented on the operation that answers it."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient

from app.api.problems import PROBLEM_JSON
from app.config import Settings
from app.hires.schemas import ACTION_PAYLOADS, NoPayload
from app.licences.schemas import LICENCE_ACTION_PAYLOADS
from app.main import TAGS, create_app
from app.web.contract import action_operations
from app.workflow import HIRE, LICENCE, Action
from tests.support import contract
from tests.support.contract import documented_codes, operation_for, undocumented
from tests.support.tenants import Tenant

APP = Path(__file__).resolve().parents[2] / "app"
ACTION_ROUTES = (
    (HIRE, ACTION_PAYLOADS, "/v1/hires/{hire_id}/actions/", "hire"),
    (LICENCE, LICENCE_ACTION_PAYLOADS, "/v1/licence/actions/", "licence"),
)


def _parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", [])}


def test_every_action_of_a_workflow_is_an_operation_of_its_own_with_its_typed_body() -> None:
    document = contract.spec()
    for workflow, payloads, prefix, name in ACTION_ROUTES:
        listed = {path.removeprefix(prefix) for path in document["paths"] if path.startswith(prefix)}
        assert listed == {a.name for a in workflow.actions if not a.system}, workflow.name
        for action in workflow.actions:
            if action.system:
                continue
            operation = document["paths"][prefix + action.name]["post"]
            camel = "".join(part.capitalize() for part in action.name.split("_"))
            assert operation["operationId"] == name + camel
            body = operation["requestBody"]
            assert body["required"] is True
            schema = body["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{payloads[action.name].__name__}"}
            assert _parameters(operation)["If-Match"]["required"] is True
            declared = [code for guard in action.guards for code in guard.reasons]
            assert set(operation["x-refusal-reasons"]) == set(declared)
    assert not [path for path in document["paths"] if "{action}" in path]


def test_every_operation_is_in_a_documented_section_and_every_section_has_operations() -> None:
    # The documentation's sections follow the routers' reading order (TAGS, from DOCUMENTED), not the
    # order routes are matched in; an operation under a tag missing there would land at the end of the page.
    document = contract.spec()
    used = {tag for operations in document["paths"].values() for op in operations.values() for tag in op["tags"]}
    assert [t["name"] for t in document["tags"]] == list(TAGS)
    assert used == set(TAGS)


def test_adding_an_action_to_a_definition_adds_its_operation() -> None:
    note = Action("note_progress", "Note progress on the case.", sources=("draft",), dest=None)
    extended = dataclasses.replace(HIRE, actions=(*HIRE.actions, note))
    operations = action_operations("hire", extended, ACTION_PAYLOADS | {"note_progress": NoPayload})["x-actions"]
    assert set(operations) == {a.name for a in HIRE.actions if not a.system} | {"note_progress"}
    assert operations["note_progress"]["operationId"] == "hireNoteProgress"


def test_every_reason_a_guard_gives_is_declared_by_a_guard() -> None:
    """A new refusal reason in app/workflow/guards.py is documented once a guard declares it."""
    tree = ast.parse((APP / "workflow" / "guards.py").read_text())
    given = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Reason"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    declared = {code for w in (HIRE, LICENCE) for a in w.actions for g in a.guards for code in g.reasons}
    assert given <= declared, given - declared


def test_no_operation_has_an_optional_union_body_and_every_error_is_a_problem() -> None:
    """What openapi-python-client cannot serialise (an optional anyOf body) or parse (an error without
    the Problem schema) appears nowhere."""
    document = contract.spec()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            assert not {"anyOf", "oneOf"} & set(body.get("schema", {})), (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"][PROBLEM_JSON]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
                    assert documented_codes(operation, int(status)), (method, path, status)


def test_every_versioned_write_requires_if_match_and_documents_412_and_428() -> None:
    document = contract.spec()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if_match = _parameters(operation).get("If-Match")
            if if_match is None or path == "/v1/cos-allocation":  # a new allocation has no version yet
                continue
            assert if_match["required"] is True, (method, path)
            assert documented_codes(operation, 428) == {"precondition_required"}, (method, path)
            assert "precondition_failed" in documented_codes(operation, 412), (method, path)
    for action in ("report", "waive"):
        assert _parameters(document["paths"][f"/v1/obligations/{{obligation_id}}/actions/{action}"]["post"])[
            "If-Match"
        ]["required"]


def test_headers_are_declared_where_the_server_reads_or_sends_them() -> None:
    document = contract.spec()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = _parameters(operation)
            assert ("Idempotency-Key" in parameters) == (method == "post" and path.startswith("/v1/")), path
            if "403" in operation["responses"] and path.startswith("/v1/hires"):
                assert "Sponsorflow-Organisation" in parameters, path
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                assert "X-Request-ID" in headers, (method, path, status)
                if status == "503" and "database_busy" in documented_codes(operation, 503):
                    assert "Retry-After" in headers
    hire = document["paths"]["/v1/hires/{hire_id}"]["get"]["responses"]["200"]["headers"]
    assert "ETag" in hire
    created = document["paths"]["/v1/hires"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location", "Idempotent-Replayed"} <= set(created)


def _raised_codes() -> set[tuple[int, str]]:
    """Every (status, code) pair app/ raises or answers with literally."""
    found: set[tuple[int, str]] = set()
    for file in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            literals = [a.value for a in node.args if isinstance(a, ast.Constant)]
            statuses = [v for v in literals if isinstance(v, int)]
            codes = [v for v in literals if isinstance(v, str) and v.isidentifier() and v.islower()]
            if name == "Conflict" and codes:
                found.add((409, codes[0]))
            elif name in {"ProblemError", "problem_response", "handle_as", "_reject"} and statuses and codes:
                found.add((statuses[0], codes[0]))
    return found


def test_every_problem_code_the_server_raises_is_documented_on_some_operation() -> None:
    raised = _raised_codes()
    assert len(raised) > 40  # the scan found the raises
    document = contract.spec()
    documented = {
        (int(status), code)
        for operations in document["paths"].values()
        for operation in operations.values()
        for status in operation["responses"]
        for code in documented_codes(operation, int(status))
    }
    # Only paths outside the contract answer these: an action name no workflow has, a system action.
    outside = {(404, "unknown_action"), (403, "system_action")}
    assert raised - documented == outside


def _url(path: str) -> str:
    return "/".join("unknown_id" if part.startswith("{") else part for part in path.split("/"))


async def test_every_operation_answers_only_statuses_and_codes_it_documents(
    settings: Settings, db, clock, rulebook, tenant: Tenant, platform_key: str  # type: ignore[no-untyped-def]
) -> None:
    """Drive every documented operation with what clients get wrong: no key, a weaker role, a platform
    key without an organisation, an unknown id, malformed JSON, another content type, an oversized
    body, no or a stale If-Match, a body of the wrong shape, a bad Idempotency-Key."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}), clock=clock, engine=db, rulebook=rulebook)
    document = contract.spec()
    admin, viewer = tenant.headers("admin"), tenant.headers("viewer")
    platform = {"Authorization": f"Bearer {platform_key}"}
    stale = {"If-Match": '"999999"'}
    json_type = {"Content-Type": "application/json"}
    failures, answered = [], set()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        for path, operations in document["paths"].items():
            url = _url(path)
            for method, operation in operations.items():
                probes: list[dict[str, Any]] = [
                    {},
                    {"headers": viewer | stale},
                    {"headers": platform | stale},
                    {"headers": admin | stale},
                ]
                if "If-Match" in _parameters(operation):
                    probes.append({"headers": admin})
                if method in ("post", "put", "patch"):
                    probes += [
                        {"headers": admin | stale | json_type, "content": b'{"oops'},
                        {"headers": admin | stale | {"Content-Type": "text/plain"}, "content": b"hello"},
                        {"headers": admin | stale | json_type, "content": b"[" + b" " * 2048 + b"]"},
                        {"headers": admin | stale, "json": []},
                        {"headers": admin | stale, "json": {"unexpected": "field"}},
                    ]
                if "Idempotency-Key" in _parameters(operation):
                    probes.append({"headers": admin | stale | {"Idempotency-Key": "k" * 256}, "json": {}})
                for probe in probes:
                    r = await client.request(method.upper(), url, **probe)
                    problem = undocumented(document, method.upper(), url, r)
                    if problem is not None:
                        failures.append(problem)
                    if r.headers.get("content-type") == "application/problem+json":
                        answered.add((r.status_code, r.json()["code"]))
    assert failures == []
    # The walk reached every kind of refusal it set out to provoke.
    expected = {
        (401, "unauthenticated"),
        (403, "forbidden"),
        (400, "organisation_required"),
        (404, "not_found"),
        (400, "malformed_json"),
        (415, "unsupported_media_type"),
        (413, "payload_too_large"),
        (428, "precondition_required"),
        (422, "validation_error"),
        (400, "invalid_idempotency_key"),
    }
    assert expected <= answered, expected - answered


def test_an_action_operation_is_found_by_its_own_path_before_any_template() -> None:
    document = contract.spec()
    found = operation_for(document, "POST", "/v1/hires/hire_1/actions/request_cos")
    assert found is not None and found[1]["operationId"] == "hireRequestCos"
    assert operation_for(document, "POST", "/v1/hires/hire_1/actions/no_such_action") is None
