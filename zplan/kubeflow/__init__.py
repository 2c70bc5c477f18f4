"""Running a zplan pipeline on Kubeflow Pipelines or Vertex AI Pipelines.

Each step becomes one container task that calls ``zplan run-step``; KFP only
orders and places the work, while caching and lineage stay zplan's own.
"""
