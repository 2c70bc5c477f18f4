"""Serving models on this machine: ``local_model_server`` (MLServer, in its own environment)."""

from .server import LocalModelServer

__all__ = ["LocalModelServer"]
