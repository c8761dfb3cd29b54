"""Benchmark: list pages as the data grows.

    python bench/lists.py [--db postgresql,sqlite] [--sizes 10000,1000000] [--seconds 3]
                          [--pg-database sponsorflow_bench_lists]

For each database and size N: a fresh schema, one organisation, N employed hires and their open
deadlines (one hire walked through the API, cloned in SQL: bench/harness.py), ANALYZE; then the service
(production settings, one worker) and `wrk -c4` on the first and on a deep page (200 rows from the
end, through the cursor a client would hold) of GET /v1/hires and GET /v1/deadlines, unfiltered and
with a filter. Prints the p50 of each and, per list, the ratio of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from app.api.cursors import encode_cursor
from app.db.engine import create_engine
from app.deadlines.models import Deadline
from bench.harness import (
    Load,
    bench_settings,
    drop_pg,
    ensure_wrk,
    hire_id,
    production_env,
    recreate_pg,
    run_wrk,
    seed,
    serving,
)

LISTS = (
    ("GET /v1/hires", "/v1/hires?limit=50"),
    ("GET /v1/hires?state=employed", "/v1/hires?limit=50&state=employed"),
    ("GET /v1/deadlines", "/v1/deadlines?limit=50"),
    ("GET /v1/deadlines?status=pending", "/v1/deadlines?limit=50&status=pending"),
)
DEEP = 200  # rows from the end


async def prepare(database: str, n: int, args: argparse.Namespace, tmp: Path) -> tuple[str, str, dict[str, str]]:
    """The database with N hires; returns its URL, the viewer key and each list's deep-page cursor."""
    if database == "postgresql":
        url = await recreate_pg(args.pg_database)
    else:
        url = f"sqlite+aiosqlite:///{tmp / f'lists-{n}.db'}"
    engine = create_engine(bench_settings(url))
    started = datetime.now()
    try:
        seeded = await seed(engine, url, n)
        async with engine.connect() as conn:
            due_at, dl_id = (
                await conn.execute(
                    select(Deadline.due_at, Deadline.id)
                    .where(Deadline.organisation_id == seeded.organisation_id)
                    .order_by(Deadline.due_at, Deadline.id)
                    .offset(max(seeded.deadlines - DEEP, 0))
                    .limit(1)
                )
            ).one()
    finally:
        await engine.dispose()
    print(f"  {database}: {n:,} hires, {seeded.deadlines:,} deadlines in {datetime.now() - started}", flush=True)
    hires_cursor = encode_cursor({"id": hire_id(max(n - DEEP, 1))})
    deadlines_cursor = encode_cursor({"due_at": due_at.isoformat(), "id": dl_id})
    return url, seeded.viewer_key, {"hires": hires_cursor, "deadlines": deadlines_cursor}


def measure(database: str, n: int, args: argparse.Namespace, wrk: str, tmp: Path) -> dict[tuple[str, str], float]:
    url, key, cursors = asyncio.run(prepare(database, n, args, tmp))
    # No embedded worker: its start-up rule-change sweep walks every live case, which is not what this
    # measures (and takes long at a million cases).
    env = production_env(url, SPONSORFLOW_SCHEDULER_ENABLED="false")
    found: dict[tuple[str, str], float] = {}
    with serving("app.main:serve_app", env, 1, tmp / f"lists-{database}-{n}.log") as base:
        for name, path in LISTS:
            cursor = cursors["hires" if "/hires" in path else "deadlines"]
            for page, url_path in (("first", path), ("deep", f"{path}&cursor={cursor}")):
                load = Load("GET", url_path.replace("%", "%%"), key=key)
                run_wrk(wrk, base, load, 1, 4, tmp)  # warm-up
                found[(name, page)] = run_wrk(wrk, base, load, args.seconds, 4, tmp).p50_ms
    if database == "postgresql":
        asyncio.run(drop_pg(args.pg_database))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="postgresql,sqlite")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--pg-database", default=os.environ.get("SPONSORFLOW_BENCH_PG_DATABASE", "sponsorflow_bench") + "_lists"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, dict[int, dict[tuple[str, str], float]]] = {}
    with tempfile.TemporaryDirectory(prefix="sponsorflow-bench-") as tmp:
        for database in args.db.split(","):
            results[database] = {n: measure(database, n, args, wrk, Path(tmp)) for n in sizes}
    print()
    print(f"p50 ms of one page of 50 (wrk -t2 -c4 -d{args.seconds:g}s, 1 worker); deep = {DEEP} rows from the end")
    print()
    header = " | ".join(f"{n:,}: first | {n:,}: deep" for n in sizes)
    print(f"| database | list | {header} | largest ÷ smallest (first, deep) |")
    print("|---|---|" + "---:|" * (2 * len(sizes) + 1))
    for database, by_size in results.items():
        for name, _ in LISTS:
            cells = " | ".join(f"{by_size[n][(name, 'first')]:.1f} | {by_size[n][(name, 'deep')]:.1f}" for n in sizes)
            ratio: Any = "; ".join(
                f"{by_size[sizes[-1]][(name, page)] / by_size[sizes[0]][(name, page)]:.2f}"
                for page in ("first", "deep")
            )
            print(f"| {database} | {name} | {cells} | {ratio} |")


if __name__ == "__main__":
    main()
