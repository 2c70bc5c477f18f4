"""Projects for the CLI tests: fresh copies, and clones of one project applied once per session."""

from __future__ import annotations

import pytest

from tests.cli.helpers import TESTDATA, Project, Result, copy_project


@pytest.fixture
def project(tmp_path) -> Project:
    """The small four-step pipeline, never applied."""
    return copy_project(TESTDATA / "pipeline", tmp_path / "pipeline")


@pytest.fixture(scope="session")
def applied_once(tmp_path_factory) -> tuple[Project, Result]:
    project = copy_project(TESTDATA / "pipeline", tmp_path_factory.mktemp("applied") / "pipeline")
    return project, project.apply()


@pytest.fixture
def applied(applied_once, tmp_path) -> Project:
    """The small pipeline after one successful apply (a private clone: edit it freely)."""
    return applied_once[0].clone(tmp_path / "pipeline")
