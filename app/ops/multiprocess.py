"""The directory prometheus-client's multiprocess mode shares between processes.

Apart from app.ops.metrics on purpose: the client picks its storage when a metric is created, so the
directory must exist (and the variable be set) before that module is imported in any process.
"""

from __future__ import annotations

import glob
import os
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess() -> str:
    """Before worker processes start: a shared, empty directory for their metric files. An operator's
    PROMETHEUS_MULTIPROC_DIR is used (emptied of a previous run's files), otherwise a fresh one."""
    path = multiprocess_dir()
    if path is None:
        path = tempfile.mkdtemp(prefix="sponsorflow-metrics-")
        os.environ[MULTIPROC_ENV] = path
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    return path
