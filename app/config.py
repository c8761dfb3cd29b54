"""Settings, read from the environment (prefix SPONSORFLOW_) and an optional .env file."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"


class LogFormat(StrEnum):
    auto = "auto"  # JSON unless stderr is a terminal
    json = "json"
    text = "text"


#: Encrypts HRIS signing secrets in development only; production refuses to start with it (see below).
DEVELOPMENT_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1ocmlzLXNlY3JldC1rZXk="


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPONSORFLOW_", env_file=".env", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = "sqlite+aiosqlite:///./sponsorflow.db"
    database_pool_size: int = Field(default=4, ge=1, description="4 beat 16 on throughput and p99 here")
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.auto
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    idempotency_lock_seconds: int = Field(
        default=60, ge=1, description="after this, an unfinished Idempotency-Key claim may be retaken"
    )
    api_key_cache_seconds: float = Field(
        default=10,
        ge=0,
        description="how long a process trusts a looked-up API key or organisation (0: never); a key revoked "
        "through another process stops working within this time, through this one at once",
    )
    idempotency_retention_hours: int = Field(default=24, ge=1, description="how long a key replays its answer")
    rules_path: Path | None = None
    # None means "on in development, off in production"; see _development_only_features.
    sandbox_enabled: bool | None = None
    bootstrap_dev_keys: bool | None = None
    dev_keys_file: Path = Path(".sponsorflow/dev-keys.env")
    scheduler_enabled: bool | None = None
    scheduler_interval_seconds: float = Field(default=5.0, gt=0)
    scheduler_batch_size: int = Field(default=200, ge=1)
    # /metrics: with a token it needs `Authorization: Bearer <token>`; with a port it is served only there
    # (a bind of its own, e.g. reachable from the monitoring network alone). In production one is needed.
    metrics_token: SecretStr | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_refresh_seconds: float = Field(
        default=30.0, gt=0, description="how often the background loop recounts the domain gauges"
    )
    # HRIS intake (app.integrations.hris)
    hris_encryption_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Fernet keys for HRIS signing secrets at rest: the first encrypts, every one decrypts",
    )
    hris_secret_grace_hours: int = Field(
        default=24, ge=0, description="how long a rotated-out signing secret still verifies"
    )
    hris_inbox_interval_seconds: float = Field(default=1.0, gt=0, description="pause between inbox passes")
    hris_timestamp_tolerance_seconds: int = Field(
        default=300, ge=1, description="Standard Webhooks and Finch: how far a signed timestamp may be from now"
    )
    hris_bamboohr_timestamp_tolerance_seconds: int = Field(
        default=10_800,
        ge=1,
        description="BambooHR retries for 155 minutes; a retry is not assumed to be re-signed",
    )
    # Outbound webhooks (app/integrations/webhooks). The schedule is Svix's, published in the README:
    # the first attempt at once, then a retry after each delay in turn; after the last the delivery fails.
    webhook_retry_schedule_seconds: list[Annotated[float, Field(ge=0)]] = Field(
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000],
        min_length=1,
        description="delay before each attempt of a delivery: the first from when the relay queues the event, "
        "each next from the attempt before",
    )
    webhook_disable_after_hours: float = Field(
        default=120, gt=0, description="an endpoint whose attempts have all failed for this long is disabled"
    )
    webhook_secret_rotation_hours: float = Field(
        default=24, ge=0, description="after a rotation the old secret keeps signing for this long"
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, description="whole attempt: connect, send, read")
    webhook_response_excerpt_bytes: int = Field(default=1024, ge=0, le=65536)
    webhook_relay_batch_size: int = Field(default=200, ge=1, description="outbox rows relayed per transaction")
    webhook_relay_concurrency: int = Field(default=16, ge=1, description="endpoints sent to at once per worker")
    webhook_relay_run_size: int = Field(default=50, ge=1, description="deliveries sent in order per endpoint claim")
    # Production refuses endpoint URLs that resolve to non-public addresses (loopback, private, link-local,
    # cloud metadata), except into these networks; development allows them (a receiver on the laptop).
    webhook_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    webhook_require_https: bool | None = None

    @model_validator(mode="after")
    def _development_only_features(self) -> Settings:
        production = self.environment is Environment.production
        refused = [
            name for name in ("sandbox_enabled", "bootstrap_dev_keys") if production and getattr(self, name) is True
        ]
        if refused:
            raise ValueError(
                "development-only features cannot be enabled in production: "
                + ", ".join(f"SPONSORFLOW_{n.upper()}" for n in refused)
            )
        development_key = SecretStr(DEVELOPMENT_ENCRYPTION_KEY)
        if production and (not self.hris_encryption_keys or development_key in self.hris_encryption_keys):
            raise ValueError(
                "production needs SPONSORFLOW_HRIS_ENCRYPTION_KEYS (a JSON list of Fernet keys) "
                "other than the development key"
            )
        if not self.hris_encryption_keys:
            self.hris_encryption_keys = [development_key]
        for key in self.hris_encryption_keys:
            try:
                Fernet(key.get_secret_value())
            except ValueError as exc:
                raise ValueError(
                    "SPONSORFLOW_HRIS_ENCRYPTION_KEYS holds a value that is not a Fernet key "
                    "(32 url-safe base64-encoded bytes: `python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                ) from exc
        if self.sandbox_enabled is None:
            self.sandbox_enabled = not production
        if self.bootstrap_dev_keys is None:
            self.bootstrap_dev_keys = not production
        if self.scheduler_enabled is None:
            # Embedded scheduler by default on SQLite (one process); PostgreSQL deployments run workers.
            self.scheduler_enabled = self.is_sqlite
        if self.webhook_require_https is None:
            self.webhook_require_https = production
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production

    @property
    def metrics_on_api_port(self) -> bool:
        """/metrics is answered on the API's own port: not when it has a port of its own, and in
        production only behind a token."""
        return self.metrics_port is None and (self.metrics_token is not None or not self.is_production)


@lru_cache
def get_settings() -> Settings:
    return Settings()
