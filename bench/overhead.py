"""Benchmark: what the service's HTTP layer costs a request around its use case, against bare FastAPI.

    python bench/overhead.py [--requests 2000] [--rounds 7]

The hot routes' machinery, without their use cases: the middleware (request id and JSON access log,
metrics, body limit), routing among all the service's routes, FastAPI's resolution of the dependencies
(the API key from the per-process cache, the role, the organisation's clock, the rule book, the session,
If-Match), the idempotency route class, the response's validation and JSON. Each route's use case is
replaced, for the run, by one that answers at once with what the real one answered for a seeded case, so
the response is the same. The floor is bare FastAPI: one route per row, with the same path and the same
response model, returning the same object.

Both apps are ASGI callables called directly (no sockets, no database round trips: the SQLite database
seeded first serves only the API key's first lookup), interleaved, the same number of requests each
round. CPU time per request, best of the rounds: the machine's other load only ever adds to it. The access
log goes to /dev/null (its write is counted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from starlette.types import ASGIApp, Message

from app.api.cursors import Page
from app.db.engine import create_engine
from app.hires import service
from app.hires.schemas import HireOut
from app.main import serve_app
from bench.harness import bench_settings, hire_id, print_markdown_table, production_env, seed


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str
    body: bytes = b""


async def call(app: ASGIApp, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """One request, as uvicorn hands it to the app; fails unless it is answered 2xx."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    received = False
    status: list[int] = []

    async def receive() -> Message:
        nonlocal received
        if received:  # nothing more: the app would be waiting for a disconnect
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if not status or not 200 <= status[0] < 300:
        raise RuntimeError(f"{method} {path} answered {status}")


def cpu_per_request(run: Callable[[], Awaitable[None]], requests: int) -> Callable[[], Awaitable[float]]:
    async def measure() -> float:
        started = time.process_time()
        for _ in range(requests):
            await run()
        return (time.process_time() - started) / requests * 1e6

    return measure


@contextlib.contextmanager
def answering(name: str, answer: Any) -> Iterator[None]:
    """`app.hires.service.<name>` answers `answer` at once, for the block."""
    real = getattr(service, name)

    async def instant(*_args: Any, **_kwargs: Any) -> Any:
        return answer

    setattr(service, name, instant)
    try:
        yield
    finally:
        setattr(service, name, real)


def floor_app(answers: dict[str, Any]) -> FastAPI:
    """Bare FastAPI: the rows' routes, their response models, nothing else."""
    floor = FastAPI()

    @floor.post("/v1/hires/{hire_id}/actions/{action}")
    async def act(hire_id: str, action: str) -> HireOut:
        return answers["apply_action"]  # type: ignore[no-any-return]

    @floor.get("/v1/hires/{hire_id}")
    async def read(hire_id: str) -> HireOut:
        return answers["get_hire"]  # type: ignore[no-any-return]

    @floor.get("/v1/hires")
    async def page(limit: int = 50, state: str | None = None) -> Page[HireOut]:
        return answers["list_hires"]  # type: ignore[no-any-return]

    return floor


async def main(args: argparse.Namespace, devnull: TextIO) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sponsorflow-overhead-"))
    url = f"sqlite+aiosqlite:///{tmp / 'sponsorflow.db'}"
    engine = create_engine(bench_settings(url))
    try:
        seeded = await seed(engine, url, 50)
    finally:
        await engine.dispose()
    os.environ.update(production_env(url))
    hire = hire_id(1)
    change_job = {"effective_date": seeded.today.isoformat(), "job_title": "Senior engineer"}
    rows = [
        Row("action: change_job", "POST", f"/v1/hires/{hire}/actions/change_job", json.dumps(change_job).encode()),
        Row("case read: GET /v1/hires/{id}", "GET", f"/v1/hires/{hire}"),
        Row("list page: GET /v1/hires (50 cases)", "GET", "/v1/hires?limit=50&state=employed"),
    ]  # fmt: skip
    headers = [
        (b"authorization", f"Bearer {seeded.hr_key}".encode()),
        (b"if-match", b"*"),
        (b"content-type", b"application/json"),
    ]
    with contextlib.redirect_stderr(devnull):
        app = serve_app()  # its access log writes to the stderr it finds: /dev/null
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
            auth = {"Authorization": f"Bearer {seeded.hr_key}"}
            read = (await client.get(f"/v1/hires/{hire}", headers=auth)).json()
            listed = (await client.get("/v1/hires?limit=50&state=employed", headers=auth)).json()
        answers = {
            "apply_action": HireOut.model_validate(read),
            "get_hire": HireOut.model_validate(read),
            "list_hires": Page[HireOut].model_validate(listed),
        }
        floor = floor_app(answers)
        measured: dict[tuple[str, str], list[float]] = {}
        with contextlib.ExitStack() as stack:
            for name, answer in answers.items():
                stack.enter_context(answering(name, answer))
            runs = []
            for row in rows:
                for server, target in (("floor", floor), ("service", app)):

                    async def run(target: ASGIApp = target, row: Row = row) -> None:
                        await call(target, row.method, row.path, headers, row.body)

                    for _ in range(200):  # warm: caches, the key's first lookup
                        await run()
                    runs.append(((row.name, server), cpu_per_request(run, args.requests)))
            for _ in range(args.rounds):
                for key, measure in runs:
                    measured.setdefault(key, []).append(await measure())
    print(
        f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"{args.rounds} interleaved rounds of {args.requests:,} requests a row, best round's CPU per request"
    )
    table: list[tuple[str, ...]] = []
    for row in rows:
        floor_us, service_us = min(measured[(row.name, "floor")]), min(measured[(row.name, "service")])
        table.append(
            (row.name, f"{floor_us:,.0f}", f"{service_us:,.0f}", f"{service_us - floor_us:,.0f}",
             f"{service_us / floor_us:.2f}")
        )  # fmt: skip
    print_markdown_table(
        ("route (its use case answering at once)", "bare FastAPI µs", "service µs", "difference µs", "ratio"), table
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per row per round")
    parser.add_argument("--rounds", type=int, default=7)
    with open(os.devnull, "w") as devnull:
        asyncio.run(main(parser.parse_args(), devnull))
