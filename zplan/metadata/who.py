"""Who applies a run: the OS user, and the CI service when the environment names one.

Recorded with the run for people (the dashboard's runs page), never used for cache keys.
"""

from __future__ import annotations

import getpass
import os
from typing import Callable, Mapping

from zplan.metadata.records import Applier

Env = Mapping[str, str]


def _github(env: Env) -> str | None:
    parts = [env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")]
    return f"{parts[0].rstrip('/')}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def _first(*names: str) -> Callable[[Env], str | None]:
    return lambda env: next((env[n] for n in names if env.get(n)), None)


def _azure(env: Env) -> str | None:
    base, project, build = env.get("SYSTEM_COLLECTIONURI"), env.get("SYSTEM_TEAMPROJECT"), env.get("BUILD_BUILDID")
    return f"{base.rstrip('/')}/{project}/_build/results?buildId={build}" if base and project and build else None


# (the variable a CI service sets, its name, where its run's page is); the first one set wins
_SERVICES: tuple[tuple[str, str, Callable[[Env], str | None]], ...] = (
    ("GITHUB_ACTIONS", "GitHub Actions", _github),
    ("GITLAB_CI", "GitLab CI", _first("CI_JOB_URL", "CI_PIPELINE_URL")),
    ("BUILDKITE", "Buildkite", _first("BUILDKITE_BUILD_URL")),
    ("CIRCLECI", "CircleCI", _first("CIRCLE_BUILD_URL")),
    ("JENKINS_URL", "Jenkins", _first("BUILD_URL")),
    ("TF_BUILD", "Azure Pipelines", _azure),
    ("BITBUCKET_BUILD_NUMBER", "Bitbucket Pipelines", lambda env: None),
    ("TRAVIS", "Travis CI", _first("TRAVIS_BUILD_WEB_URL")),
    ("TEAMCITY_VERSION", "TeamCity", lambda env: None),
)
_FALSE = ("", "0", "false", "no")
# every variable that makes a run count as a CI run (tests clear them to be independent of where they run)
CI_VARIABLES: tuple[str, ...] = (*(variable for variable, _, _ in _SERVICES), "CI")


def applier(env: Env | None = None) -> Applier:
    """The applier from the environment (``os.environ`` by default)."""
    env = os.environ if env is None else env
    for variable, name, url in _SERVICES:
        if env.get(variable, "").strip().lower() not in _FALSE:
            return Applier(_user(), name, _web_url(url(env)))
    if env.get("CI", "").strip().lower() not in _FALSE:
        return Applier(_user(), "CI", None)
    return Applier(_user(), None, None)


def _web_url(url: str | None) -> str | None:
    """Only an http(s) address is kept: it becomes a link on the runs page."""
    return url if url and url.startswith(("https://", "http://")) else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return None
