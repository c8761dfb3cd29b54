"""create_app(): routers, error handlers, middleware and the lifespan (the embedded worker)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import configure_mappers

from app import __version__
from app.api import problems
from app.api.limits import BodyLimitMiddleware
from app.api.request_context import RequestContextMiddleware, configure_logging
from app.audit.router import router as events_router
from app.audit_packs.router import router as audit_router
from app.clock import Clock, SystemClock
from app.compliance.router import router as compliance_router
from app.config import Settings, get_settings
from app.db.engine import create_engine, create_sessionmaker
from app.deadlines.router import router as deadlines_router
from app.hires.router import router as hires_router
from app.hires.schemas import ACTION_PAYLOADS
from app.integrations.hris.router import hooks as hris_hooks_router
from app.integrations.hris.router import router as hris_router
from app.integrations.hris.secrets import SecretBox
from app.integrations.webhooks.catalogue import openapi_webhooks
from app.integrations.webhooks.router import router as webhooks_router
from app.job_mappings.router import router as job_mappings_router
from app.licences.router import router as licences_router
from app.licences.schemas import LICENCE_ACTION_PAYLOADS
from app.obligations.router import router as obligations_router
from app.ops.metrics import HttpMetricsMiddleware, instrument_pool, process_exiting
from app.ops.router import router as ops_router
from app.organisations.router import router as organisations_router
from app.retention.router import router as retention_router
from app.rules.book import RuleBook, RuleNotFound
from app.rules.loader import load_rulebook
from app.rules.router import router as rules_router
from app.sandbox.router import router as sandbox_router
from app.web import contract
from app.web.auth import CACHE_INFO, KeyCache
from app.worker.loop import Worker
from app.workflow.router import router as workflows_router

DESCRIPTION = """
Runs UK Skilled Worker sponsorship for every hire an employer sponsors: sponsor licence, Certificate of
Sponsorship (CoS), visa, right-to-work (RTW) check and Sponsor Management System (SMS) reporting, with
deadlines counted in UK working days.

## Authentication
Send an API key: `Authorization: Bearer sf_...`. Organisation keys have a role: `viewer` reads, `hr`
also acts on cases, `admin` also manages keys. Platform keys manage organisations and act for one by
naming it in the `Sponsorflow-Organisation` header. Another organisation's objects answer 404.

## Errors
Every error is [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json` with a
stable `code`; `errors` lists field problems (422) and `reasons` explains a refused action (409).
Each operation lists, per status, the codes it can answer with one example each; an action lists its
refusal reasons (`x-refusal-reasons`). `503 database_busy` comes with `Retry-After`: retry it. Every
response carries `X-Request-ID` (send your own to correlate logs). A path outside this document answers
`404` (`not_found`, or `unknown_action` for an action no workflow has).

## Actions
Each workflow action is an operation of its own, `POST /v1/hires/{hire_id}/actions/request_cos` and so
on, with its own body; `GET /v1/hires/{hire_id}` lists the `available_actions` now.

## Concurrency: ETags
Versioned resources return an `ETag`. Writes that change what you read (PATCH, every action,
obligation reports and waivers) need `If-Match` with that ETag, marked required on each: a stale one
answers `412 precondition_failed` (with the current ETag) and changes nothing; none answers
`428 precondition_required`.

## Safe retries: Idempotency-Key
Any POST accepts `Idempotency-Key` (1 to 255 characters, unique per request, per API key). A repeat
replays the first response (marked `Idempotent-Replayed: true`); the same key with another body answers
`422 idempotency_key_reused`; a repeat while the first is running answers `409`. A secret shown once (an API
key, a signing secret: fields marked `x-shown-once`) is never stored: the replay answers `[shown once]`.

## Input values
What no one means is refused with `422 validation_error` naming the field: text with NUL or a byte-order
mark, a day not written `YYYY-MM-DD` or outside its window (`formatMinimum`/`formatMaximum`), a time without
a time zone, an amount with spaces or an exponent, a boolean written as a number or a string.

## Lists
Lists return `{"data": [...], "next_cursor": ...}` in a stable order; pass `cursor` to continue.
"""


#: The routers in the documentation's reading order: its sections (the routes' tags) follow it.
DOCUMENTED = (
    ops_router,
    organisations_router,
    licences_router,
    hires_router,
    job_mappings_router,
    workflows_router,
    events_router,
    audit_router,
    deadlines_router,
    sandbox_router,
    obligations_router,
    rules_router,
    retention_router,
    compliance_router,
    hris_router,
    hris_hooks_router,
    webhooks_router,
)
TAGS = tuple(
    dict.fromkeys(
        tag
        for router in DOCUMENTED
        for route in router.routes
        if getattr(route, "include_in_schema", False)
        for tag in getattr(route, "tags", ())
    )
)
#: Matched before the rest. FastAPI matches a request against every included router's routes in turn
#: (about 3 µs a route): the receivers HRIS bulk syncs post to, and the cases, go first.
MATCHED_FIRST = (hris_hooks_router, hires_router)


def _operation_id(route: APIRoute) -> str:
    # `create_hire` → `createHire`: generated clients read well.
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    rulebook: RuleBook | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or create_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        embedded = None
        if settings.scheduler_enabled:
            # Embedded mode: one process does the worker's jobs too (design §3).
            embedded = asyncio.create_task(app.state.worker.run_forever(app.state.clock), name="sponsorflow-worker")
        try:
            yield
        finally:
            if embedded is not None:
                embedded.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await embedded
            if owns_engine:
                await engine.dispose()
            process_exiting()

    app = FastAPIOffline(
        title="sponsorflow",
        version=__version__,
        description=DESCRIPTION,
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
        favicon_url="data:,",
        openapi_tags=[{"name": name} for name in TAGS],
    )
    app.state.settings = settings
    app.state.engine = engine
    instrument_pool(engine)
    app.state.sessionmaker = create_sessionmaker(engine)
    # Commits through this app's sessions that write keys, organisations or test clocks empty it.
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    app.state.sessionmaker.configure(info={CACHE_INFO: app.state.key_cache})
    app.state.clock = clock or SystemClock()
    # Bad rules data refuses to start here, not on the first request that needs it.
    app.state.rulebook = rulebook or load_rulebook(settings.rules_path)
    # The test-clock route runs the deadline job through the same worker the loop runs.
    app.state.worker = Worker(app.state.sessionmaker, app.state.rulebook, settings)
    # Signing secrets are decrypted only to verify a delivery (app.integrations.hris.secrets).
    app.state.secret_box = SecretBox(settings.hris_encryption_keys)

    problems.install(app)
    # A date the rules data does not cover (a typo for a year, a date before the route existed).
    problems.handle_as(app, RuleNotFound, 422, "rule_not_in_force")
    for router in (*MATCHED_FIRST, *(r for r in DOCUMENTED if r not in MATCHED_FIRST)):
        app.include_router(router)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed", "Retry-After"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    _document_problems(app)
    return app


def serve_app() -> FastAPI:
    """The app factory each `sponsorflow serve --workers N` process calls (settings from the environment)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return server_app(settings)


def server_app(settings: Settings) -> FastAPI:
    """The app as a server process runs it. What start-up built and keeps for the life of the process
    (modules, routes, mappers, the rule book: about 200,000 objects) is moved out of the garbage
    collector's sight (`gc.freeze`). Otherwise every full collection walks all of it: a pause of about
    90 ms every few thousand requests, felt by every request in flight at the time."""
    app = create_app(settings)
    configure_mappers()
    gc.collect()
    gc.freeze()
    return app


def _document_problems(app: FastAPI) -> None:
    """Add the schemas that routes reference by $ref (problems, action payloads) to the components, and
    the outbound webhooks (OpenAPI 3.1 `webhooks`) with their payload schemas."""
    build = app.openapi
    referenced: list[type[BaseModel]] = [
        problems.Problem,
        *ACTION_PAYLOADS.values(),
        *LICENCE_ACTION_PAYLOADS.values(),
    ]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in dict.fromkeys(referenced):
                defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(defs.pop("$defs", {}))
                components[model.__name__] = defs
            contract.document(app, schema)
            webhooks, payloads = openapi_webhooks()
            components.update(payloads)
            schema["webhooks"] = webhooks
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
