"""TFX standard components as zplan steps (``step "stats" { tfx = "StatisticsGen" ... }``).

Imported only for projects that have a TFX step: ``specs`` and ``planning`` are
plain data and checks (plan), ``runner`` imports TFX and runs in a worker,
``lineage`` records executions in ML Metadata with TFX's own types, and
``artifact`` is how a TFX artifact is stored (and what a Python step reading one gets).
"""

from zplan.tfx.artifact import TfxArtifact

__all__ = ["TfxArtifact"]
