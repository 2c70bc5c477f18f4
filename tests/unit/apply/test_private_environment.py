"""A step worker removes zplan's own secrets from its environment before every step (zplan.apply.step_log)."""

from __future__ import annotations

import os


def test_a_worker_withholds_zplan_s_private_variables_at_every_step_even_after_a_clean_one(monkeypatch):
    from zplan.apply.step_log import withhold_private_environment

    monkeypatch.delenv("ZPLAN_VAR_token", raising=False)
    withhold_private_environment()  # none: remembered as clean
    withhold_private_environment()
    monkeypatch.setenv("ZPLAN_VAR_token", "s3cret")
    monkeypatch.setenv("ZPLAN_STATE_KEY", "k")
    withhold_private_environment()
    assert "ZPLAN_VAR_token" not in os.environ and "ZPLAN_STATE_KEY" not in os.environ
