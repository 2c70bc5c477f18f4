"""The local provider passes the conformance suite every provider can run."""

from __future__ import annotations

import atexit
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

from zplan.testing import ProviderConformance, ResourceCase, SchemaFlags
from zplan_provider_local import LocalProvider

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _model(c: float) -> dict:
    """An artifact reference to a small fitted classifier, as a resource receives a step output."""
    from sklearn.linear_model import LogisticRegression

    folder = Path(tempfile.mkdtemp(prefix="zplan-model-"))
    atexit.register(shutil.rmtree, folder, True)  # made when the cases are declared, used by several tests
    with open(folder / "model.pkl", "wb") as f:
        pickle.dump(LogisticRegression(C=c).fit([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]], [0, 1, 0, 1]), f, protocol=5)
    digest = f"{int(c * 1000):032x}"
    return {"uri": folder.as_uri(), "digest": digest, "materializer": "sklearn.pickle", "path": str(folder)}


class TestLocalProvider(ProviderConformance):
    provider_class = LocalProvider
    cases = [
        ResourceCase("local_directory", {"path": "data/raw"}, update={"path": "data/raw", "mode": "0700"},
                     replace={"path": "data/moved", "mode": "0700"}),
        ResourceCase("local_file", {"path": "config.json", "content": "{}"},
                     update={"path": "config.json", "content": '{"v": 2}'},
                     replace={"path": "other.json", "content": '{"v": 2}'}),
        ResourceCase("local_sqlite_database", {"path": "meta.db", "init_sql": "CREATE TABLE t (x);"},
                     update={"path": "meta.db", "init_sql": "CREATE TABLE IF NOT EXISTS u (y);"},
                     replace={"path": "moved.db"}),
        ResourceCase("local_process", {"command": SLEEPER, "health_check": "none"},
                     update={"command": SLEEPER, "health_check": "none", "health_timeout": 5},
                     replace={"command": [*SLEEPER, "again"], "health_check": "none", "health_timeout": 5}),
        # a real MLServer: its environment is created on first use (see providers/local/.../serving)
        ResourceCase("local_model_server", {"model": _model(1.0)}, update={"model": _model(0.5)},
                     replace={"model": _model(0.5), "name": "renamed"}),
        ResourceCase("local_dask_cluster", {"workers": 1}, update={"workers": 1, "health_timeout": 30},
                     replace={"workers": 1, "threads_per_worker": 2}),
    ]
    flags = {
        "local_directory": SchemaFlags(required={"path"}, force_new={"path"}, computed_only={"id", "created_at"}),
        "local_file": SchemaFlags(required={"path"}, force_new={"path"}, computed_only={"id", "sha256"},
                                  sensitive={"sensitive_content"}),
        "local_sqlite_database": SchemaFlags(required={"path"}, force_new={"path"}, computed_only={"id", "url"}),
        "local_process": SchemaFlags(
            required={"command"}, force_new={"command", "env", "port", "working_dir"},
            computed_only={"id", "pid", "start_ticks", "log_file", "started_at", "url"}, sensitive={"env"},
        ),
        "local_model_server": SchemaFlags(
            required={"model"}, force_new={"name", "port", "runtime"},
            computed_only={"id", "pid", "start_ticks", "url", "infer_url", "model_digest", "log_file", "started_at"},
        ),
        "local_dask_cluster": SchemaFlags(
            force_new={"workers", "threads_per_worker", "memory_limit", "worker_resources", "folder"},
            computed_only={"id", "scheduler_address", "dashboard_url", "pids", "start_ticks"},
        ),
    }
