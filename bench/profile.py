"""Where a request's time goes: the service under load, sampled by py-spy.

    python bench/profile.py [--database postgresql|sqlite] [--work action|read|list|hris] [--seconds 10]
                            [--top 40] [--raw stacks.txt]

Seeds a database as throughput.py does, starts the service with one worker (production settings, JSON
access logs), drives one kind of request with `wrk -c16` and samples the worker with `py-spy record`
(a dev dependency; it needs ptrace, which root has). Prints the frames with the most samples, inclusive
and self, in per cent of all samples. Coroutines and SQLAlchemy's greenlets are sampled as separate
stacks, so the inclusive figures of frames above an `await` undercount; the self figures are exact.
`--raw` keeps the collapsed stacks (flamegraph.pl and speedscope read them).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import ensure_wrk, production_env, run_wrk, serving
from bench.throughput import prepare, unprepare

WORKS = {
    "action": "action: change_job",
    "read": "case read: GET /v1/hires/{id}",
    "list": "list page: GET /v1/hires",
    "hris": "HRIS webhook accept",
}


def _frame(raw: str) -> str:
    """`function (path/to/module.py:line)` as `function (module.py)`: one row per function."""
    name, _, where = raw.partition(" (")
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name


def top(stacks: Path, count: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    pending = ""
    for line in stacks.read_text().splitlines():
        # A frame of generated code is named by its source text, newlines included: such a stack spans
        # several lines, and only the last ends with the count.
        stack, _, samples = (pending + line).rpartition(" ")
        if not samples.isdigit():
            pending += line + " "
            continue
        pending = ""
        n = int(samples)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title} (% of {total} samples)")
        for frame, n in counter.most_common(count):
            print(f"{100 * n / total:6.1f}  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--work", default="action", choices=tuple(WORKS))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--hires", type=int, default=256)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--pg-database", default=os.environ.get("SPONSORFLOW_BENCH_PG_DATABASE", "sponsorflow_bench") + "_profile"
    )
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is missing: make install")
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="sponsorflow-profile-") as name:
        tmp = Path(name)
        url, _floor_url, planned = asyncio.run(prepare(args.database, args, tmp))
        work = next(w for w in planned if w.name == WORKS[args.work])
        env = production_env(url, SPONSORFLOW_LOG_LEVEL="INFO")
        try:
            with serving("app.main:serve_app", env, 1, tmp / "service.log", url) as server:
                run_wrk(wrk, server, work.for_run(2), 2, work.connections, tmp)  # warm-up
                stacks = tmp / "stacks.txt"
                record = (
                    f"{py_spy} record --pid {server.pid} --duration {args.seconds} --rate 500 --nonblocking "
                    f"--format raw --output {stacks}"
                )
                sampler = subprocess.Popen(record.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                measured = run_wrk(wrk, server, work.for_run(args.seconds), args.seconds, work.connections, tmp)
                sampler.wait()
        finally:
            asyncio.run(unprepare(args.database, args))
        print(
            f"{work.name} on {args.database}: {measured.requests_per_second:.0f} req/s, CPU "
            f"{measured.app_cpu_ms:.2f} + {measured.db_cpu_ms:.2f} ms/req (app + db; sampling slows the app)"
        )
        if args.raw:
            shutil.copy(stacks, args.raw)
        top(stacks, args.top)


if __name__ == "__main__":
    main()
