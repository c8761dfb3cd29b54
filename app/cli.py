"""sponsorflow serve | worker | migrate | openapi | keys create | demo"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import uvicorn

from app.api.request_context import configure_logging
from app.clock import SystemClock
from app.config import Settings, get_settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.migrations import upgrade
from app.main import create_app
from app.organisations import service
from app.organisations.bootstrap import bootstrap_development
from app.organisations.principals import Role
from app.organisations.schemas import ApiKeyCreate
from app.rules.loader import load_rulebook
from app.worker.loop import Worker


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    if args.migrate:
        asyncio.run(_migrate(settings))
    if settings.bootstrap_dev_keys:
        _print_bootstrap(asyncio.run(_bootstrap(settings)), settings)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        proxy_headers=True,
    )
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
                created = await service.create_api_key(
                    session,
                    args.organisation,
                    ApiKeyCreate(name=args.name, role=role),
                    None,
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

    async def run() -> None:
        engine = create_engine(settings)
        worker = Worker(create_sessionmaker(engine), book, settings)
        try:
            if args.once:
                done = await worker.tick(SystemClock().now())
                print(" ".join(f"{job}={count}" for job, count in done.items()))
            else:
                await worker.run_forever(SystemClock())
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sponsorflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (with the embedded worker on SQLite)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--migrate", action="store_true", help="upgrade the database first")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker", help="run the background jobs (any number of processes on PostgreSQL share the work)"
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
