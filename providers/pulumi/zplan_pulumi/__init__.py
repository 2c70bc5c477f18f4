"""Shared engine for zplan providers applied through Pulumi's Automation API.

Importing this package does not import Pulumi: the type tables and schemas
are plain data, and the SDK is loaded only when something is applied.
"""

from __future__ import annotations

from .provider import PulumiProvider
from .results import read_deployment
from .spec import JSON, Field, TypeMap, arg, out, resource_type, table

__all__ = [
    "JSON",
    "Field",
    "PulumiProvider",
    "TypeMap",
    "arg",
    "out",
    "read_deployment",
    "resource_type",
    "table",
]
