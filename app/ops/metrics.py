"""Prometheus metrics: what the service measures, and how a scrape reads it in one process or several.

The metrics are module-level objects of the official client. With several processes on one host
(`sponsorflow serve --workers N`, or uvicorn/gunicorn workers started by hand) the client's
multiprocess mode is used: `PROMETHEUS_MULTIPROC_DIR` names an empty directory shared by the processes,
set before any of them imports this module; each process writes its values to files there, and a scrape
of any one of them aggregates all. `sponsorflow serve --workers N` prepares that directory itself
(app.ops.multiprocess, which imports no metric).

Gauges declare how processes combine: `livesum` for per-process quantities (connections in use),
`livemax` for the scheduler's lag, `mostrecent` for the domain gauges, which every refreshing process
sets to the same database counts.
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ops.multiprocess import multiprocess_dir

if (_shared := multiprocess_dir()) is not None:
    # The client opens its files there as each metric below is created.
    os.makedirs(_shared, exist_ok=True)

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The label of requests no route matched (404s, rejected bodies): raw paths would explode cardinality.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# --- HTTP ---------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "sponsorflow_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "sponsorflow_http_request_duration_seconds",
    "Time from receiving a request to sending the end of its response, by route template and method.",
    ["route", "method"],
)
HTTP_IN_PROGRESS = Gauge(
    "sponsorflow_http_requests_in_progress",
    "Requests being handled now.",
    multiprocess_mode="livesum",
)

# --- database pool ------------------------------------------------------------------------------------
DB_POOL_SIZE = Gauge(
    "sponsorflow_db_pool_size",
    "Connections the pool keeps open per process (overflow excluded), summed over live processes.",
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_OPEN = Gauge(
    "sponsorflow_db_pool_connections_open",
    "Database connections open, idle or in use.",
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_IN_USE = Gauge(
    "sponsorflow_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    multiprocess_mode="livesum",
)
DB_CHECKOUTS = Counter("sponsorflow_db_pool_checkouts", "Connections taken from the pool.")

# --- scheduler ----------------------------------------------------------------------------------------
SCHEDULER_TICKS = Counter("sponsorflow_scheduler_ticks", "Background loop passes (a tick runs every job once).")
WORKER_JOB_FAILURES = Counter(
    "sponsorflow_worker_job_failures", "Background jobs that raised (retried next tick), by job.", ["job"]
)
SCHEDULER_TICK_DURATION = Histogram(
    "sponsorflow_scheduler_tick_duration_seconds", "How long one background loop pass took."
)
SCHEDULER_DUE_ROWS = Counter(
    "sponsorflow_scheduler_due_rows",
    "Due deadline rows the scheduler found and claimed (a row left for a busy case is found again).",
)
SCHEDULER_FIRED = Counter(
    "sponsorflow_scheduler_fired",
    "Deadlines fired, by outcome (warned, breached) and deadline kind.",
    ["outcome", "kind"],
)
SCHEDULER_LAG = Gauge(
    "sponsorflow_scheduler_lag_seconds",
    "How long the oldest due deadline row had waited when the last pass began (0: none was due).",
    multiprocess_mode="livemax",
)

# --- domain gauges (refreshed by the background loop; see app.ops.gauges) -------------------------------
CASES = Gauge("sponsorflow_cases", "Hire cases by state.", ["state"], multiprocess_mode="mostrecent")
DEADLINES = Gauge(
    "sponsorflow_deadlines",
    "Deadline rows still open (pending, warned) or breached, by status.",
    ["status"],
    multiprocess_mode="mostrecent",
)
OBLIGATIONS = Gauge(
    "sponsorflow_obligations",
    "SMS reporting obligations still owed, by status (open, overdue).",
    ["status"],
    multiprocess_mode="mostrecent",
)
DOMAIN_REFRESHED = Gauge(
    "sponsorflow_domain_gauges_refreshed_timestamp_seconds",
    "When the domain gauges were last counted (Unix time).",
    multiprocess_mode="mostrecent",
)

# --- outbound webhooks --------------------------------------------------------------------------------
WEBHOOK_DELIVERIES_FAILED = Counter(
    "sponsorflow_webhook_deliveries_failed",
    "Webhook delivery attempts that failed (retried on the schedule until the delivery is marked failed).",
)

# --- compliance jobs ----------------------------------------------------------------------------------
RETENTION_ERASED = Counter(
    "sponsorflow_retention_cases_erased", "Closed cases whose personal data was erased after retention."
)
AUDIT_EXPORTS = Counter("sponsorflow_audit_exports", "Audit packs exported, by scope (hire, organisation).", ["scope"])


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/hires/{hire_id}`), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by the template of the route that answered it. Outermost,
    so that errors rendered by the inner middleware are counted with their status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "other"
        status = 500
        started = time.perf_counter()

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            HTTP_IN_PROGRESS.dec()
            observe_request(route_template(scope), method, status, time.perf_counter() - started)


_instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()


def instrument_pool(engine: AsyncEngine) -> None:
    """Follow the engine's connection pool through its events (once per engine)."""
    sync = engine.sync_engine
    if sync in _instrumented:
        return
    _instrumented.add(sync)
    size = getattr(sync.pool, "size", None)
    DB_POOL_SIZE.inc(size() if callable(size) else 0)

    def on_connect(*_: Any) -> None:
        DB_CONNECTIONS_OPEN.inc()

    def on_close(*_: Any) -> None:
        DB_CONNECTIONS_OPEN.dec()

    def on_checkout(*_: Any) -> None:
        DB_CONNECTIONS_IN_USE.inc()
        DB_CHECKOUTS.inc()

    def on_checkin(*_: Any) -> None:
        DB_CONNECTIONS_IN_USE.dec()

    event.listen(sync, "connect", on_connect)
    event.listen(sync, "close", on_close)
    event.listen(sync, "close_detached", on_close)
    event.listen(sync, "checkout", on_checkout)
    event.listen(sync, "checkin", on_checkin)


# --- exposition ---------------------------------------------------------------------------------------


def registry() -> CollectorRegistry:
    """The registry a scrape reads: this process's, or every process's files in multiprocess mode."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    aggregated = CollectorRegistry()
    multiprocess.MultiProcessCollector(aggregated, path)  # type: ignore[no-untyped-call]
    return aggregated


def exposition() -> bytes:
    return generate_latest(registry())


def serve_separately(host: str, port: int) -> WSGIServer:
    """Serve the metrics on a bind of their own (a daemon thread), away from the API's port."""
    server, _ = start_http_server(port, addr=host, registry=registry())
    return server


def process_exiting() -> None:
    """Drop this process's live gauges from the aggregate (multiprocess mode only)."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
