"""Training backends: a step with ``backend = "vertex" | "sagemaker"`` runs as a Vertex AI
CustomJob or a SageMaker training job (``jobs`` compiles and checks the job, ``submit`` runs
it and waits, ``exchange`` carries the task and its result through the artifact store,
``task_mode`` is what ``zplan run-step -task ... -result ...`` does inside the job)."""

from zplan.config.step_backend import BACKENDS

__all__ = ["BACKENDS"]
