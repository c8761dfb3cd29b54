# The same CLI as `make run`: migrate, then serve. Configure with SPONSORFLOW_* variables; production
# needs SPONSORFLOW_HRIS_ENCRYPTION_KEYS (a JSON list of Fernet keys for HRIS signing secrets).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPONSORFLOW_ENVIRONMENT=production \
    SPONSORFLOW_HOST=0.0.0.0 \
    SPONSORFLOW_PORT=8000 \
    SPONSORFLOW_DATABASE_URL=sqlite+aiosqlite:////data/sponsorflow.db

WORKDIR /srv/sponsorflow
RUN useradd --create-home --uid 10001 sponsorflow \
    && mkdir /data && chown sponsorflow:sponsorflow /data

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .
COPY alembic.ini ./
COPY migrations ./migrations

USER sponsorflow
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1

# With PostgreSQL (SPONSORFLOW_DATABASE_URL=postgresql+asyncpg://...), run one-off `sponsorflow migrate`
# before rolling out replicas, and `sponsorflow worker` processes beside them.
CMD ["sponsorflow", "serve", "--migrate"]
