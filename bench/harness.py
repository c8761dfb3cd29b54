"""What the HTTP benchmarks share: the load generator (wrk), the servers under test, the databases and
the seed data (one employed hire walked through the real API, then cloned in SQL as often as asked)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from httpx import ASGITransport, AsyncClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession  # noqa: E402

from app.audit import administration  # noqa: E402
from app.audit.service import SYSTEM  # noqa: E402
from app.config import Settings  # noqa: E402
from app.context import uk_today  # noqa: E402
from app.db.engine import create_sessionmaker  # noqa: E402
from app.db.migrations import upgrade  # noqa: E402
from app.deadlines.models import Deadline  # noqa: E402
from app.hires.models import Hire  # noqa: E402
from app.main import create_app  # noqa: E402
from app.organisations import service as organisations  # noqa: E402
from app.organisations.models import Nation, SponsorSize  # noqa: E402
from app.organisations.principals import Role  # noqa: E402
from app.organisations.schemas import ApiKeyCreate, OrganisationCreate, OrganisationOut  # noqa: E402

PG_SERVER_URL = os.environ.get("SPONSORFLOW_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
HIRE_PREFIX = "hire_bench_"
HIRE_DIGITS = 7


def hire_id(n: int) -> str:
    return f"{HIRE_PREFIX}{n:0{HIRE_DIGITS}d}"


# --- the load generator ------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from the Debian package, installed with apt-get when missing (this says so when it does)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed: installing the Debian package `wrk` with apt-get", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get did not install wrk")
    return found


# Each wrk thread picks a random row per request, or sends the next of the prepared raw requests in
# BENCH_REQUESTS (NUL-separated; thread t of n sends the t-th, (t+n)-th, ... so none is sent twice);
# `done` prints one machine-readable line.
_LUA = """
local rows = tonumber(os.getenv("BENCH_ROWS"))
local template = os.getenv("BENCH_PATH")
wrk.method = os.getenv("BENCH_METHOD")
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["If-Match"] = "*"
local key = os.getenv("BENCH_KEY")
if key ~= nil and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
local threads = tonumber(os.getenv("BENCH_THREADS"))
local started = 0
local prepared = nil
local sent = 0

function setup(thread)
  thread:set("thread_no", started)
  started = started + 1
end

function init(args)
  math.randomseed(tonumber(tostring({}):match("0x(%x+)"), 16) % 2147483647)
  local path = os.getenv("BENCH_REQUESTS")
  if path ~= nil and path ~= "" then
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    prepared = {}
    for req in string.gmatch(data, "([^%z]+)") do prepared[#prepared + 1] = req end
  end
end

function request()
  if prepared ~= nil then
    local i = (sent * threads + thread_no) % #prepared + 1
    sent = sent + 1
    return prepared[i]
  end
  return wrk.format(nil, string.format(template, math.random(rows)))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Load:
    """One kind of request: method, path template (`%d` is a random row in 1..rows), body, key."""

    method: str
    path: str
    rows: int = 1
    body: str = ""
    key: str = ""
    requests: Path | None = None  # prepared raw requests, sent in turn instead (see _LUA)
    prepared: int = 0  # how many: more requests than that would repeat some


@dataclass(frozen=True)
class Measured:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # CPU time per request, of the server's processes and of the PostgreSQL backends serving it: what a
    # request costs whatever else the machine is doing (the rates move with the machine's load).
    app_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0

    @property
    def cpu_ms(self) -> float:
        return self.app_cpu_ms + self.db_cpu_ms


def run_wrk(wrk: str, server: Server | str, load: Load, seconds: float, connections: int, workdir: Path) -> Measured:
    """`wrk` against a server; with a `Server`, its CPU time per request too."""
    base_url = server.url if isinstance(server, Server) else server
    meter = CpuMeter(server) if isinstance(server, Server) else None
    script = workdir / "bench.lua"
    if not script.exists():
        script.write_text(_LUA)
    env = {
        **os.environ,
        "BENCH_ROWS": str(load.rows),
        "BENCH_PATH": load.path,
        "BENCH_METHOD": load.method,
        "BENCH_BODY": load.body,
        "BENCH_KEY": load.key,
        "BENCH_REQUESTS": str(load.requests or ""),
    }
    threads = min(2, connections)
    env["BENCH_THREADS"] = str(threads)
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), base_url]
    with meter or contextlib.nullcontext():
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    requests, duration_us, bad_status, socket_errors, p50_us, p99_us = (int(v) for v in line.split()[1:])
    if load.requests is not None and requests > load.prepared:
        raise RuntimeError(f"{load.path}: {requests} requests sent, {load.prepared} prepared: some were repeats")
    if bad_status or socket_errors:
        raise RuntimeError(
            f"{load.method} {load.path}: {bad_status} non-2xx answers and {socket_errors} socket errors "
            f"out of {requests}: the figures would measure failures"
        )
    measured = Measured(requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000)
    if meter is None or not requests:
        return measured
    return replace(measured, app_cpu_ms=meter.app * 1000 / requests, db_cpu_ms=meter.db * 1000 / requests)


# --- CPU time, from /proc ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")
# A backend's title: `postgres: 15/main: user database host(port) activity` (update_process_title).
_BACKEND = re.compile(r"^postgres: (?:[^:]+: )?\S+ (\S+) \S+\(\d+\)")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime + stime in seconds) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _cpu(server: Server) -> tuple[float, dict[int, float]]:
    """CPU seconds used so far by the server's process tree, and by each PostgreSQL backend connected to
    its database."""
    stats: dict[int, tuple[int, float]] = {}
    backends: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        found = _stat(pid)
        if found is None:
            continue
        stats[pid] = found
        if server.database is not None:
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            match = _BACKEND.match(title)
            if match and match.group(1) == server.database:
                backends[pid] = found[1]
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    app, todo = 0.0, [server.pid]
    while todo:
        pid = todo.pop()
        app += stats[pid][1] if pid in stats else 0.0
        todo += children.get(pid, [])
    return app, backends


class CpuMeter:
    """The CPU seconds a server and its backends use while the block runs. Backends are sampled every
    0.2 s meanwhile: a pool closes its overflow connections, and a backend that has exited is no longer in
    /proc (what one used after its last sample is missed)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.app = self.db = 0.0
        self._stop = threading.Event()
        self._seen: dict[int, float] = {}

    def __enter__(self) -> CpuMeter:
        self._app_before, self._db_before = _cpu(self.server)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._seen.update(_cpu(self.server)[1])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        app, backends = _cpu(self.server)
        self._seen.update(backends)
        self.app = app - self._app_before
        self.db = sum(seconds - self._db_before.get(pid, 0.0) for pid, seconds in self._seen.items())


# --- servers under test ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    database: str | None  # the PostgreSQL database it uses, whose backends' CPU time is its own


@contextlib.contextmanager
def serving(
    factory: str, env: dict[str, str], workers: int, log: Path, database_url: str | None = None
) -> Iterator[Server]:
    """uvicorn serving an app factory on a free port, stopped on exit. `database_url` names the
    PostgreSQL database whose backends it uses (each server under test has its own)."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(port, proc, log)
        database = make_url(database_url).database if database_url and database_url.startswith("postgres") else None
        yield Server(base, proc.pid, database)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early; see {log}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            time.sleep(1.0)  # every worker process listening, not just the first
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start; see {log}")


# --- databases ---------------------------------------------------------------------------------------


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql")


async def recreate_pg(database: str) -> str:
    """An empty database on the benchmark server; returns its SQLAlchemy URL."""
    conn = await asyncpg.connect(_dsn(PG_SERVER_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
        version = await conn.fetchval("SHOW server_version")
        # Off, the statistics stay as the seed left them and plans go stale as tables grow (bench/README.md,
        # "Tenth round"): worth knowing beside the figures.
        autovacuum = await conn.fetchval("SHOW autovacuum")
    finally:
        await conn.close()
    print(f"PostgreSQL {version} (autovacuum {autovacuum}): database {database}", flush=True)
    return make_url(PG_SERVER_URL).set(database=database).render_as_string(hide_password=False)


async def drop_pg(database: str) -> None:
    conn = await asyncpg.connect(_dsn(PG_SERVER_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


# Production refuses to start without HRIS encryption keys other than the development one: one made
# for this run, shared by the seeding code and the servers it starts.
_ENCRYPTION_KEYS = json.dumps([Fernet.generate_key().decode()])


def bench_settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        environment="production",
        scheduler_enabled=False,
        bootstrap_dev_keys=False,
        hris_encryption_keys=json.loads(_ENCRYPTION_KEYS),
    )


def production_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a service under test: production settings, JSON logs, this run's keys."""
    return {
        "SPONSORFLOW_DATABASE_URL": url,
        "SPONSORFLOW_ENVIRONMENT": "production",
        "SPONSORFLOW_LOG_FORMAT": "json",
        "SPONSORFLOW_HRIS_ENCRYPTION_KEYS": _ENCRYPTION_KEYS,
        **extra,
    }


# --- seed data ---------------------------------------------------------------------------------------


@dataclass
class Seeded:
    organisation_id: str
    admin_key: str
    hr_key: str
    viewer_key: str
    hires: int
    today: date
    deadlines: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


async def bench_organisation(
    session: AsyncSession, now: datetime, sponsor_size: SponsorSize = SponsorSize.medium_large
) -> OrganisationOut:
    """The one organisation every benchmark seeds."""
    return await organisations.create_organisation(
        session, OrganisationCreate(name="Bench Ltd", sponsor_size=sponsor_size, nation=Nation.england_and_wales), now
    )


async def bench_key(session: AsyncSession, organisation_id: str, role: Role, name: str, now: datetime) -> str:
    """An organisation's API key (its secret), created as the CLI creates one."""
    created = await administration.create_api_key(
        session, organisation_id, ApiKeyCreate(name=name, role=role), SYSTEM, now
    )
    return created.key


def print_markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A results table as Markdown (the READMEs quote it): the first column left, the figures right."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("| " + " | ".join(cells) + " |")


async def seed(engine: AsyncEngine, url: str, hires: int) -> Seeded:
    """Migrate, create an organisation with an active licence, walk one hire to `employed` through the
    API (as a client would), then clone it and its open deadlines in SQL until there are `hires`."""
    await upgrade(engine)
    now = datetime.now(UTC)
    today = uk_today(now)
    async with create_sessionmaker(engine)() as session:
        org = await bench_organisation(session, now)
        keys = {}
        for role in (Role.admin, Role.hr, Role.viewer):
            keys[role] = await bench_key(session, org.id, role, role.value, now)
    app = create_app(bench_settings(url), engine=engine)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
        seed_id = await _walk_to_employed(client, keys[Role.admin], keys[Role.hr], today)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE hires SET id = :id WHERE id = :seed"), {"id": hire_id(1), "seed": seed_id})
        await conn.execute(
            text("UPDATE deadlines SET subject_id = :id WHERE subject_id = :seed"), {"id": hire_id(1), "seed": seed_id}
        )
        await clone_hires(conn, hires)
        deadlines = (await conn.execute(text("SELECT count(*) FROM deadlines"))).scalar_one()
        await conn.execute(text("ANALYZE"))
    return Seeded(org.id, keys[Role.admin], keys[Role.hr], keys[Role.viewer], hires, today, int(deadlines))


async def _walk_to_employed(client: AsyncClient, admin: str, hr: str, today: date) -> str:
    def headers(key: str, etag: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", **({"If-Match": etag} if etag else {})}

    r = await client.post("/v1/licence", headers=headers(admin))
    r.raise_for_status()
    for action, body in (("submit", {}), ("grant", {"licence_number": "LIC-BENCH"})):
        r = await client.post(f"/v1/licence/actions/{action}", json=body, headers=headers(admin, r.headers["etag"]))
        r.raise_for_status()
    day = today.isoformat()
    start = (today + timedelta(days=14)).isoformat()
    r = await client.post(
        "/v1/hires",
        json={
            "given_name": "Ada", "family_name": "Okafor", "nationality": "NGA", "date_of_birth": "1994-05-17",
            "email": "ada@example.com", "job_title": "Software engineer", "soc_code": "2134",
            "salary": "62000.00", "weekly_hours": "37.5", "start_date": start, "work_location": "Manchester",
            "work_nation": "england_and_wales", "inside_uk": False,
        },
        headers=headers(hr),
    )  # fmt: skip
    r.raise_for_status()
    hid = str(r.json()["id"])
    end = (today + timedelta(days=3 * 365)).isoformat()
    for action, body in (
        ("request_cos", {}),
        ("grant_cos", {}),
        ("assign_cos", {"cos_reference": "C2G8H71234567X"}),
        ("submit_visa_application", {"application_date": day}),
        ("grant_visa", {"permission_start_date": day, "permission_end_date": end}),
        ("complete_rtw_check", {"rtw_check_date": day, "method": "manual"}),
        ("start_employment", {"actual_start_date": day}),
    ):
        r = await client.post(f"/v1/hires/{hid}/actions/{action}", json=body, headers=headers(hr, r.headers["etag"]))
        if r.status_code != 200:
            raise RuntimeError(f"seeding {action}: {r.status_code} {r.text}")
    return hid


def _series(dialect: str) -> tuple[str, str]:
    """A `g` = 2..:n row source and the SQL that spells hire g's id, per dialect."""
    if dialect == "postgresql":
        return "generate_series(2, :n) AS s(g)", f"'{HIRE_PREFIX}' || lpad(g::text, {HIRE_DIGITS}, '0')"
    return (
        "(WITH RECURSIVE s(g) AS (SELECT 2 UNION ALL SELECT g + 1 FROM s WHERE g < :n) SELECT g FROM s) AS s",
        f"'{HIRE_PREFIX}' || printf('%0{HIRE_DIGITS}d', g)",
    )


async def clone_hires(conn: Any, n: int) -> None:
    """Copy hire 1 and its open deadlines as hires 2..n, in two INSERT ... SELECT statements."""
    if n < 2:
        return
    source, new_id = _series(conn.dialect.name)
    hire_cols = [c.name for c in Hire.__table__.columns]
    picked = [new_id if c == "id" else ("NULL" if c == "external_id" else f"h.{c}") for c in hire_cols]
    await conn.execute(
        text(
            f"INSERT INTO hires ({', '.join(hire_cols)}) "
            f"SELECT {', '.join(picked)} FROM hires h, {source} WHERE h.id = :one"
        ),
        {"n": n, "one": hire_id(1)},
    )
    dl_cols = [c.name for c in Deadline.__table__.columns]
    dl_picked = [
        ("'dl_' || " + new_id + " || '_' || d.kind") if c == "id" else (new_id if c == "subject_id" else f"d.{c}")
        for c in dl_cols
    ]
    await conn.execute(
        text(
            f"INSERT INTO deadlines ({', '.join(dl_cols)}) SELECT {', '.join(dl_picked)} FROM deadlines d, {source} "
            "WHERE d.subject_id = :one AND d.status IN ('pending', 'warned')"
        ),
        {"n": n, "one": hire_id(1)},
    )
