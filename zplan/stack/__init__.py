"""Stacks: which orchestrator, artifact store, metadata store and processing engine a run uses."""
