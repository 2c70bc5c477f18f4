"""A sklearn-training module applied once on the local stack: its model feeds the
local-serving tests, as a calling project would hand ``module.training.model`` on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import Project, cli_env, copy_project

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "modules" / "sklearn-training"
WINE = ROOT / "examples" / "quickstart" / "data" / "wine.csv"
TRAINING_VARS = {"ZPLAN_VAR_data": "data/wine.csv", "ZPLAN_VAR_hyperparameters": "{ C = 0.5, max_iter = 1000 }"}


def training_project(root: Path) -> tuple[Project, dict[str, str]]:
    project = copy_project(TRAINING, root)
    (root / "data").mkdir()
    shutil.copy(WINE, root / "data" / "wine.csv")
    return project, cli_env(**TRAINING_VARS)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, str]]:
    """The module applied once (read-only for the tests that use it)."""
    project, env = training_project(tmp_path_factory.mktemp("modules") / "training")
    project.ok("apply", "-auto-approve", env=env, timeout=600)
    return project, env
