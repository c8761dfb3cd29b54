"""deploy/: the Prometheus alert rules and the Grafana dashboard load, and ask only for series the
service exports.

`promtool` comes from Debian's `prometheus` package, which `make test` unpacks (`make promtool`); CI
fails without it, elsewhere its checks are skipped and the structural checks here still run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from httpx import AsyncClient
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from tests.ops.scrape import scrape
from tests.support.databases import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus-alerts.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
_METRIC = re.compile(r"\bsponsorflow_[a-z0-9_]+")
_UNPACKED = ROOT / ".sponsorflow/tools/usr/bin/promtool"  # where `make promtool` puts it
PROMTOOL = shutil.which("promtool") or (str(_UNPACKED) if _UNPACKED.is_file() else None)
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not IN_CI, reason="promtool not installed (make test installs Debian's prometheus)"
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is required in CI: `make test` installs Debian's prometheus package"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}


def _exported() -> set[str]:
    """Every series name the service's metrics can export (a labelled family shows samples only once
    a label is used, so the names come from the families' declarations)."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("sponsorflow_")
        for suffix in _SUFFIXES[family.type]
    }


@needs_promtool
def test_the_alert_rules_load_in_promtool() -> None:
    checked = _promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in checked.stdout


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # Dashboard queries wrapped as recording rules: promtool parses each one.
    grafana_range = re.compile(r"\$__(rate_)?interval")
    rules = [
        {"record": f"sponsorflow:dashboard_{i}", "expr": grafana_range.sub("5m", expr)}
        for i, expr in enumerate(_dashboard_queries())
    ]
    checked_file = tmp_path / "dashboard-queries.yml"
    checked_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = _promtool("check", "rules", str(checked_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alerts_cover_breaches_overdue_reports_scheduler_lag_and_webhook_failures() -> None:
    rules = {rule["alert"]: rule for rule in _rules()}
    for rule in rules.values():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
    watched = {name: set(_METRIC.findall(rule["expr"])) for name, rule in rules.items()}
    assert {"sponsorflow_scheduler_fired_total"} <= watched["SponsorflowDeadlineBreached"]
    assert 'outcome="breached"' in rules["SponsorflowDeadlineBreached"]["expr"]
    assert {"sponsorflow_obligations"} <= watched["SponsorflowObligationsOverdue"]
    assert {"sponsorflow_scheduler_lag_seconds"} <= watched["SponsorflowSchedulerLagging"]
    assert {"sponsorflow_webhook_deliveries_failed_total"} <= watched["SponsorflowWebhookDeliveriesFailing"]


async def test_alerts_and_dashboard_ask_only_for_exported_series(client: AsyncClient) -> None:
    scraped = {sample.name for sample in await scrape(client)}
    assert scraped <= _exported() | {n for n in scraped if not n.startswith("sponsorflow_")}
    asked = {m for rule in _rules() for m in _METRIC.findall(rule["expr"])}
    asked |= {m for expr in _dashboard_queries() for m in _METRIC.findall(expr)}
    assert asked - _exported() == set()


def test_alerts_and_dashboard_select_only_labels_their_metrics_have() -> None:
    # A selector on a label the metric lacks matches nothing, and the alert would never fire.
    from app.ops import metrics

    labels: dict[str, set[str]] = {}
    for wrapper in vars(metrics).values():
        if isinstance(wrapper, MetricWrapperBase):
            family = next(iter(wrapper.describe()))
            for suffix in _SUFFIXES[family.type]:
                labels[family.name + suffix] = set(wrapper._labelnames) | ({"le"} if suffix == "_bucket" else set())
    selector = re.compile(r"\b(sponsorflow_[a-z0-9_]+)\{([^}]*)\}")
    by = re.compile(r"\bby \(([^)]*)\)")
    for expr in [rule["expr"] for rule in _rules()] + _dashboard_queries():
        for name, matchers in selector.findall(expr):
            used = {m.split("=")[0].strip(" !~") for m in matchers.split(",") if m.strip()}
            assert used <= labels[name], (expr, used - labels[name])
        metric_labels = set().union(*(labels.get(n, set()) for n in _METRIC.findall(expr)))
        for grouped in by.findall(expr):
            assert {g.strip() for g in grouped.split(",")} <= metric_labels, expr
