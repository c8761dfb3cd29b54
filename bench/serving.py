"""The service as production runs it, for uvicorn's `--factory` (so `--workers` can spawn it): settings
from the environment, JSON access logs, the app."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.request_context import configure_logging
from app.config import get_settings
from app.main import create_app


def service_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
