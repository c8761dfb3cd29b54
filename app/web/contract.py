"""The OpenAPI contract beyond what FastAPI derives: one operation per workflow action, the headers
every operation reads and answers, and the problem codes each operation can answer.

All of it is derived once, when the schema is built, from the routes' dependencies and the workflow
definitions: a route that depends on `If-Match` documents it as required together with 412 and 428, a
route a platform key may call documents `Sponsorflow-Organisation`, and adding an action to a workflow
adds its operation. Nothing here runs per request.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel

from app.api.problems import PROBLEM_JSON, problem_example, problem_response_doc
from app.db.session import get_session
from app.web.auth import ORGANISATION_HEADER, authenticate, platform_principal
from app.web.idempotency import HEADER as IDEMPOTENCY_HEADER
from app.web.idempotency import REPLAYED_HEADER
from app.web.routing import RoleCheck, cursor_dependency, if_match_dependency, optional_if_match_dependency
from app.workflow import Workflow
from app.workflow.guards import ELIGIBLE

_ACTIONS = "x-actions"
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_BODY_METHODS = {"POST", "PUT", "PATCH"}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "the request's id (the one sent, or a new one): quote it to correlate logs",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "the resource's version: send it back in If-Match to change it",
        "schema": {"type": "string"},
    },
    "Location": {"description": "where the created resource lives", "schema": {"type": "string"}},
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "the authentication scheme: `Bearer`", "schema": {"type": "string"}},
}


def action_operations(prefix: str, workflow: Workflow[Any], payloads: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """`openapi_extra` of a route serving `.../actions/{action}`: the contract lists one operation per
    action a person may fire (`{prefix}RequestCos`), each with its own body and refusal reasons."""
    actions = {}
    for action in workflow.actions:
        if action.system:
            continue
        model = payloads[action.name]
        reasons = list(dict.fromkeys(code for guard in action.guards for code in guard.reasons))
        sources = ", ".join(f"`{s}`" for s in action.sources)
        moves = f"stays in its state (from {sources})" if action.dest is None else f"{sources} → `{action.dest}`"
        refused = ", ".join(f"`{code}`" for code in reasons) or "none"
        eligibility = any(guard is ELIGIBLE for guard in action.guards)
        if eligibility:
            refused += ", and the blocking reasons of the case's eligibility assessment"
        actions[action.name] = {
            "operationId": prefix + "".join(part.capitalize() for part in action.name.split("_")),
            "summary": action.description.split(". ")[0].rstrip("."),
            "description": f"{action.description}\n\nMoves: {moves}. Refused (409 `action_refused`) with: {refused}.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            },
            "x-refusal-reasons": reasons,
            "x-refusal-reasons-include-eligibility": eligibility,
        }
    return {_ACTIONS: actions}


def document(app: FastAPI, schema: dict[str, Any]) -> None:
    """Complete the schema FastAPI built for `app`, in place."""
    routes = [
        (r, r.path_format or "", r.methods or set())
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute) and r.include_in_schema
    ]
    gets = {path: r.response_model for r, path, methods in routes if "GET" in methods}
    for route, path, methods in routes:
        for method in methods:
            operation = schema["paths"][path].get(method.lower())
            if operation is not None:
                _complete(route, path, method, operation, gets)
    for _, path, _ in routes:
        operation = schema["paths"].get(path, {}).get("post")
        if operation is not None and _ACTIONS in operation:
            _split_actions(schema["paths"], path, operation)
    components = schema.setdefault("components", {})
    components["headers"] = HEADERS
    components["examples"] = _share_examples(schema["paths"])


def _share_examples(paths: dict[str, Any]) -> dict[str, Any]:
    """Point every standard problem example at one shared copy (the document is large enough)."""
    shared: dict[str, Any] = {}
    for operations in paths.values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                examples = response.get("content", {}).get(PROBLEM_JSON, {}).get("examples", {})
                for code, example in examples.items():
                    if example == problem_example(int(status), code):
                        name = f"{code}_{status}"
                        shared[name] = example
                        examples[code] = {"$ref": f"#/components/examples/{name}"}
    return dict(sorted(shared.items()))


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable a route's dependencies call, however deep."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from dependency_calls(dependency)


def _complete(route: RouteContext, path: str, method: str, operation: dict[str, Any], gets: dict[str, Any]) -> None:
    calls = set(dependency_calls(route.dependant))
    # A role check authenticates the key and works out the organisation it acts for.
    role_checks = [call for call in calls if isinstance(call, RoleCheck)]
    for_organisation = bool(role_checks)
    authenticated = for_organisation or authenticate in calls
    api = path.startswith("/v1/")
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    for parameter in parameters:
        if parameter["name"] == "If-Match" and if_match_dependency in calls:
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "title": "If-Match"}
    if api and method == "POST":
        parameters.append(_header(IDEMPOTENCY_HEADER, "replays the first answer to a repeat of this request", 255))
    if for_organisation:
        parameters.append(_header(ORGANISATION_HEADER, "the organisation a platform key acts for"))
    if not parameters:
        del operation["parameters"]

    codes: dict[int, list[str]] = {}
    for declared, listed in _declared(operation).items():
        codes.setdefault(declared, []).extend(listed)

    def add(answered: int, *listed: str) -> None:
        known = codes.setdefault(answered, [])
        known.extend(code for code in listed if code not in known)

    add(500, "internal_error")
    if get_session in calls or authenticated:
        add(503, "database_busy")
    if authenticated:
        add(401, "unauthenticated")
    if platform_principal in calls or for_organisation:
        add(403, "forbidden")
    if for_organisation:
        add(400, "organisation_required")
        add(404, "not_found")
    if "{" in path:
        add(404, "not_found")
    if method in _BODY_METHODS:
        add(413, "payload_too_large")
        if api:
            add(415, "unsupported_media_type")
    if route.body_field is not None or _ACTIONS in operation:
        add(400, "malformed_json")
    if route.dependant.query_params or route.dependant.path_params or route.body_field is not None or calls:
        add(422, "validation_error")
    if api and method == "POST":
        add(400, "invalid_idempotency_key")
        add(409, "idempotency_request_in_progress")
        add(422, "idempotency_key_reused")
    if api and method in _WRITES:
        add(409, "concurrent_conflict")
    if if_match_dependency in calls:
        add(412, "precondition_failed")
        add(428, "precondition_required")
    if optional_if_match_dependency in calls:
        add(412, "precondition_failed")
    if cursor_dependency in calls:
        add(400, "invalid_cursor")
    if any(check.rules for check in role_checks):
        add(422, "rule_not_in_force", "date_out_of_range")

    responses: dict[str, Any] = operation["responses"]
    for code_status, listed in codes.items():
        responses[str(code_status)] = problem_response_doc(code_status, listed)
    operation["responses"] = responses = dict(sorted(responses.items()))
    versioned = _versioned(route)
    # Where a 201 points: the item route below the collection, or a singleton read at the same path.
    creates_at = (path in gets and gets[path] is route.response_model) or any(g.startswith(path + "/{") for g in gets)
    for status, response in responses.items():
        # A copy: FastAPI shares a route's declared response headers with every schema it builds.
        headers = response["headers"] = dict(response.get("headers", {}))
        headers["X-Request-ID"] = _ref("X-Request-ID")
        ok = status.startswith("2")
        if (ok and versioned) or status == "412":
            headers["ETag"] = _ref("ETag")
        if status == "201" and route.status_code == 201 and creates_at:
            headers["Location"] = _ref("Location")
        if api and method == "POST" and not status.startswith("5"):
            headers[REPLAYED_HEADER] = _ref(REPLAYED_HEADER)
        if status in ("429", "503") and "database_busy" in codes.get(int(status), ()):
            headers["Retry-After"] = _ref("Retry-After")
        if status == "401":
            headers["WWW-Authenticate"] = _ref("WWW-Authenticate")


def _declared(operation: dict[str, Any]) -> dict[int, list[str]]:
    """The problem codes a route declared with `problem_responses`."""
    found: dict[int, list[str]] = {}
    for status, response in operation.get("responses", {}).items():
        examples = response.get("content", {}).get(PROBLEM_JSON, {}).get("examples")
        if examples:
            found[int(status)] = list(examples)
    return found


def _versioned(route: RouteContext) -> bool:
    model = route.response_model
    return isinstance(model, type) and issubclass(model, BaseModel) and "version" in model.model_fields


def _header(name: str, description: str, max_length: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if max_length is not None:
        schema["maxLength"] = max_length
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _split_actions(paths: dict[str, Any], path: str, template: dict[str, Any]) -> None:
    """Replace the `{action}` operation with one operation per action."""
    # A copy: the dict is the route's own openapi_extra, shared by every app built from the router.
    actions: dict[str, dict[str, Any]] = copy.deepcopy(template.pop(_ACTIONS))
    del paths[path]["post"]
    if not paths[path]:
        del paths[path]
    for name, specific in actions.items():
        operation = copy.deepcopy(template)
        operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "action"]
        operation.update(specific)
        reasons = specific["x-refusal-reasons"]
        conflict = operation["responses"]["409"]
        codes = ["action_refused", "action_not_available", *conflict["content"][PROBLEM_JSON]["examples"]]
        conflict.update({**problem_response_doc(409, list(dict.fromkeys(codes))), "headers": conflict["headers"]})
        examples = conflict["content"][PROBLEM_JSON]["examples"]
        if reasons:
            examples["action_refused"]["value"]["reasons"] = [{"code": reasons[0], "message": "what to fix"}]
        examples["action_not_available"]["value"]["reasons"] = [
            {"code": "not_allowed_from_state", "message": f"{name} is not allowed from the case's state"}
        ]
        paths[path.replace("{action}", name)] = {"post": operation}

