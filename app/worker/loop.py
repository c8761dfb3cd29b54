"""The worker loop and its job registry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.context import uk_today
from app.deadlines import service as deadline_rows
from app.deadlines.schemas import Fired
from app.hires import impacts
from app.integrations.hris import events as hris_events
from app.integrations.hris import inbox
from app.integrations.webhooks.relay import relay_due
from app.integrations.webhooks.sender import Sender
from app.ops import metrics
from app.ops.gauges import DomainGauges
from app.retention import service as retention
from app.rules.book import RuleBook
from app.web import idempotency
from app.worker import deadlines

log = logging.getLogger("sponsorflow.worker")


#: What packages above the retention domain keep about a case, erased with it (one transaction).
ALSO_ERASED_BY_RETENTION: tuple[retention.AlsoErase, ...] = (hris_events.erase_case,)

@dataclass(frozen=True)
class Job:
    """One kind of background work: run at `now`, answering how many items it handled, every
    `interval` seconds in the loop."""

    name: str
    run: Callable[[datetime], Awaitable[int]]
    interval: float


class Worker:
    """The jobs of one process, over one session factory. Each tick runs every job in turn; a job that
    fails is logged and retried next tick, without stopping the others. The webhook sender's HTTP client
    lives as long as the worker (`aclose` ends it; `run_forever` does when it stops): building one costs
    tens of milliseconds of the event loop (its TLS context), and connections to receivers stay open
    between passes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], book: RuleBook, settings: Settings) -> None:
        self.sessions, self.book, self.settings = sessions, book, settings
        self.gauges = DomainGauges(settings.metrics_refresh_seconds)
        every = settings.scheduler_interval_seconds
        self.jobs: list[Job] = [
            Job("deadlines", self._deadlines, every),
            Job("retention", self._erase_past_retention, every),
            Job("idempotency_keys", self._prune_idempotency_keys, every),
            Job("domain_gauges", self._refresh_gauges, every),
            Job("rule_change_warnings", self._rule_change_warnings, every),
            # HRIS events are applied within about a second of receipt in the embedded default.
            Job("hris_inbox", self._hris_inbox, settings.hris_inbox_interval_seconds),
            # Last: the events the jobs before it recorded go out in the same tick.
            Job("webhooks", self._relay_webhooks, every),
        ]
        self._rule_changes_swept_on: date | None = None
        self._sender: Sender | None = None

    async def aclose(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            await sender.aclose()

    async def fire_deadlines(self, now: datetime, *, clock_id: str | None = None) -> list[Fired]:
        """The deadline job on one clock: the loop runs it on real time, a test-clock advance on its own."""
        return await deadlines.fire_due(
            self.sessions, self.book, now, clock_id=clock_id, batch_size=self.settings.scheduler_batch_size
        )

    async def _deadlines(self, now: datetime) -> int:
        # The lag before the pass: how long the oldest due row has waited for one to come.
        async with self.sessions() as session:
            metrics.SCHEDULER_LAG.set(await deadline_rows.due_lag(session, now))
        return len(await self.fire_deadlines(now))

    async def _erase_past_retention(self, now: datetime) -> int:
        erased = await retention.erase_due(self.sessions, now, also=ALSO_ERASED_BY_RETENTION)
        metrics.RETENTION_ERASED.inc(erased)
        return erased

    async def _refresh_gauges(self, now: datetime) -> int:
        return int(await self.gauges.refresh_if_stale(self.sessions))

    async def _relay_webhooks(self, now: datetime) -> int:
        if self._sender is None:
            self._sender = Sender(self.settings)
        done = await relay_due(self.sessions, now, self.settings, sender=self._sender)
        metrics.WEBHOOK_DELIVERIES_FAILED.inc(done.failed)
        return done.handled

    async def _prune_idempotency_keys(self, now: datetime) -> int:
        return await idempotency.prune(self.sessions, now - timedelta(hours=self.settings.idempotency_retention_hours))

    async def _rule_change_warnings(self, now: datetime) -> int:
        """Once a day per process (the first tick is at start-up, after the rules data may have changed):
        bring every live case's rule-change warnings in step with the data."""
        today = uk_today(now)
        if self._rule_changes_swept_on == today:
            return 0
        handled = await impacts.sweep(self.sessions, self.book, now, self.settings.scheduler_batch_size)
        self._rule_changes_swept_on = today
        return handled

    async def _hris_inbox(self, now: datetime) -> int:
        return await inbox.apply_pending(self.sessions, self.book, now)

    async def tick(self, now: datetime, jobs: list[Job] | None = None) -> dict[str, int]:
        """Run the given jobs (all of them by default) once, in turn."""
        started = time.perf_counter()
        done: dict[str, int] = {}
        for job in self.jobs if jobs is None else jobs:
            try:
                done[job.name] = await job.run(now)
            except Exception:
                metrics.WORKER_JOB_FAILURES.labels(job.name).inc()
                log.exception("job failed; it runs again next tick", extra={"job": job.name})
        metrics.SCHEDULER_TICKS.inc()
        metrics.SCHEDULER_TICK_DURATION.observe(time.perf_counter() - started)
        return done

    async def run_forever(self, clock: Clock) -> None:
        """Each job when its interval has passed, until cancelled."""
        loop = asyncio.get_running_loop()
        next_run = {job.name: loop.time() for job in self.jobs}
        try:
            while True:
                started = loop.time()
                due = [job for job in self.jobs if next_run[job.name] <= started]
                done = await self.tick(clock.now(), due)
                for job in due:
                    next_run[job.name] = started + job.interval
                if any(done.values()):
                    log.info("worker tick", extra=done)
                await asyncio.sleep(max(0.0, min(next_run.values()) - loop.time()))
        finally:
            await self.aclose()
