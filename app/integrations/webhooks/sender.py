"""One attempt: check the destination again, sign, POST, read a little of the answer.

An attempt is bounded as a whole (`webhook_timeout_seconds` for resolving, connecting, sending and
reading), redirects are not followed (a 3xx is a failed attempt), and at most
`webhook_response_excerpt_bytes` of the answer are read, so a slow or hostile receiver costs one worker
slot for a bounded time and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from app.clock import SystemClock
from app.config import Settings
from app.integrations.webhooks import signing
from app.integrations.webhooks.safety import UnsafeUrl, checked_target

USER_AGENT = "sponsorflow-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


class Sender:
    """Sends attempts with one pooled HTTP client. Tests may hand it their own client (any transport)."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], datetime] = SystemClock().now,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            follow_redirects=False,
            # Never through a proxy from the environment: the address we checked must be the one we reach.
            trust_env=False,
            timeout=httpx.Timeout(settings.webhook_timeout_seconds),
            limits=httpx.Limits(max_connections=4 * settings.webhook_relay_concurrency, max_keepalive_connections=64),
        )
        # The signature's timestamp is the real time of sending, which receivers check against their clock.
        self.wall_clock = wall_clock

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def send(self, url: str, msg_id: str, body: str, secrets: Sequence[str]) -> Outcome:
        started = time.perf_counter()

        def failed(error: str, status: int | None = None, excerpt: str | None = None) -> Outcome:
            return Outcome(False, status, _ms(started), excerpt, error[:500])

        limit = self.settings.webhook_response_excerpt_bytes
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                target = await checked_target(url, self.settings)
                headers = signing.headers(secrets, msg_id, self.wall_clock(), body)
                headers |= {"host": target.host_header, "user-agent": USER_AGENT, "accept-encoding": "identity"}
                extensions = {"sni_hostname": target.server_name} if target.server_name else {}
                request = self.client.build_request(
                    "POST", target.url, content=body.encode(), headers=headers, extensions=extensions
                )
                response = await self.client.send(request, stream=True)
                try:
                    excerpt = await _read_up_to(response, limit)
                finally:
                    await response.aclose()
        except UnsafeUrl as exc:
            return failed(f"refused: {exc}")
        except TimeoutError:
            return failed(f"no answer within {self.settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except OSError as exc:
            return failed(f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, _ms(started), excerpt, None)
        if 300 <= response.status_code < 400:
            return failed(
                "redirects are not followed: point the endpoint at the final URL", response.status_code, excerpt
            )
        return failed(f"the receiver answered {response.status_code}", response.status_code, excerpt)


async def _read_up_to(response: httpx.Response, limit: int) -> str | None:
    if limit == 0:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace") or None


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
