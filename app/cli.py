"""sponsorflow serve | worker | migrate | openapi | keys create | demo | retention"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from app.api.request_context import configure_logging
from app.audit import administration
from app.audit.service import SYSTEM
from app.clock import SystemClock
from app.config import Settings, get_settings
from app.context import UK, uk_today
from app.db.engine import create_engine, create_sessionmaker
from app.db.migrations import upgrade
from app.main import create_app, server_app
from app.ops.metrics import instrument_pool, serve_separately
from app.ops.multiprocess import prepare_multiprocess
from app.organisations.bootstrap import bootstrap_development
from app.organisations.principals import Role
from app.organisations.schemas import ApiKeyCreate
from app.retention import service as retention
from app.rules.loader import load_rulebook
from app.worker.loop import ALSO_ERASED_BY_RETENTION, Worker


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    if args.migrate:
        asyncio.run(_migrate(settings))
    if settings.bootstrap_dev_keys:
        _print_bootstrap(asyncio.run(_bootstrap(settings)), settings)
    workers = args.workers or 1
    if workers > 1:
        prepare_multiprocess()  # before uvicorn starts the workers: they inherit the directory
    if settings.metrics_port is not None:
        # In this process: with several workers it is uvicorn's supervisor, which outlives them all.
        serve_separately(settings.metrics_host, settings.metrics_port)
    host, port = args.host or settings.host, args.port or settings.port
    if workers > 1:
        uvicorn.run(
            "app.main:serve_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            proxy_headers=True,
        )
    else:
        uvicorn.run(server_app(settings), host=host, port=port, log_config=None, proxy_headers=True)
    return 0


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _bootstrap(settings: Settings) -> dict[str, str] | None:
    engine = create_engine(settings)
    try:
        return await bootstrap_development(create_sessionmaker(engine), settings.dev_keys_file, SystemClock().now())
    finally:
        await engine.dispose()


def _print_bootstrap(values: dict[str, str] | None, settings: Settings) -> None:
    if values is None:
        return
    print(
        "\nDevelopment keys created (shown once; also in " + str(settings.dev_keys_file) + "):",
        file=sys.stderr,
    )
    for name, value in values.items():
        print(f"  {name}={value}", file=sys.stderr)
    print(f"Load them with:  source {settings.dev_keys_file}\n", file=sys.stderr)


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    text = json.dumps(create_app(settings).openapi(), indent=2, sort_keys=False) + "\n"
    target = Path(args.output)
    if args.check:
        if not target.is_file() or target.read_text() != text:
            print(f"{target} is stale: run `make openapi` and commit it", file=sys.stderr)
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    role = Role(args.role)

    async def run() -> str:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                created = await administration.create_api_key(
                    session,
                    args.organisation,
                    ApiKeyCreate(name=args.name, role=role),
                    SYSTEM,
                    SystemClock().now(),
                )
                return created.key
        finally:
            await engine.dispose()

    print(asyncio.run(run()))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    values = asyncio.run(_bootstrap(settings))
    if values is None:
        print("the database already has API keys: nothing created", file=sys.stderr)
        return 1
    _print_bootstrap(values, settings)
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    book = load_rulebook(settings.rules_path)
    if settings.metrics_port is not None and not args.once:
        serve_separately(settings.metrics_host, settings.metrics_port)

    async def run() -> None:
        engine = create_engine(settings)
        instrument_pool(engine)
        worker = Worker(create_sessionmaker(engine), book, settings)
        try:
            if args.once:
                done = await worker.tick(SystemClock().now())
                print(" ".join(f"{job}={count}" for job, count in done.items()))
            else:
                await worker.run_forever(SystemClock())
        finally:
            await worker.aclose()
            await engine.dispose()

    asyncio.run(run())
    return 0


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    if args.as_of is not None and not args.dry_run:
        print("--as-of previews a later date: use it with --dry-run (erasure runs as of now only)", file=sys.stderr)
        return 2
    now = SystemClock().now()
    if args.as_of is not None:
        as_of = datetime.fromisoformat(args.as_of)
        now = (as_of if as_of.tzinfo else as_of.replace(tzinfo=UK)).astimezone(UTC)  # a bare date: UK time

    async def run() -> int:
        engine = create_engine(settings)
        sessions = create_sessionmaker(engine)
        try:
            planned = await retention.plan(sessions, now)
            held = [p for p in planned if p.legal_hold]
            for p in planned:
                verdict = f"kept: legal hold ({p.legal_hold_reason})" if p.legal_hold else "erase"
                print(
                    f"{p.hire_id}  organisation {p.organisation_id}  retention date {uk_today(p.retention_date)}  "
                    f"{verdict}  fields: {', '.join(p.fields) or '-'}  events: {p.events}"
                )
            if args.dry_run:
                print(f"dry run: {len(planned) - len(held)} case(s) would be erased, {len(held)} kept by a legal hold")
                return 0
            erased = await retention.erase_due(sessions, now, also=ALSO_ERASED_BY_RETENTION)
            print(f"erased {erased} case(s); {len(held)} kept by a legal hold")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sponsorflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (with the embedded worker on SQLite)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--migrate", action="store_true", help="upgrade the database first")
    serve.add_argument(
        "--workers", type=int, help="uvicorn worker processes (metrics then aggregate over all of them)"
    )
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker",
        help="run the background jobs: deadlines, retention, domain gauges (any number of processes on PostgreSQL "
        "share the work; metrics on SPONSORFLOW_METRICS_PORT)",
    )
    worker.add_argument("--once", action="store_true", help="one tick of every job over what is due now, then exit")
    worker.set_defaults(func=_worker)

    migrate = sub.add_parser("migrate", help="upgrade the database to the newest migration")
    migrate.set_defaults(func=lambda a, s: asyncio.run(_migrate(s)) or 0)

    openapi = sub.add_parser("openapi", help="write (or --check) the OpenAPI document")
    openapi.add_argument("--output", default="openapi/openapi.json")
    openapi.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    openapi.set_defaults(func=_openapi)

    keys = sub.add_parser("keys", help="manage API keys from the shell").add_subparsers(dest="keys", required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=["platform", "admin", "hr", "viewer"])
    create.add_argument("--organisation", help="organisation id (omit for a platform key)")
    create.add_argument("--name", default="created from the shell")
    create.set_defaults(func=_keys_create)

    erase = sub.add_parser(
        "retention", help="erase the personal data of closed cases past their retention date (the worker does it too)"
    )
    erase.add_argument("--dry-run", action="store_true", help="list what would be erased, change nothing")
    erase.add_argument("--as-of", help="with --dry-run: what would go by this date or time (ISO 8601, e.g. 2028-02-01)")
    erase.set_defaults(func=_retention)

    demo = sub.add_parser("demo", help="on an empty database: a platform key, a demo organisation and its admin key")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    settings = get_settings()
    code: int = args.func(args, settings)
    return code


if __name__ == "__main__":
    sys.exit(main())
