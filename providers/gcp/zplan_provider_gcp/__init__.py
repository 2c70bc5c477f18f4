"""zplan's ``gcp`` provider (resource types ``gcp_*``), applied through pulumi-gcp.

Importing it does not import Pulumi; see ``resources.TYPES`` for the mapping.
"""

from __future__ import annotations

from .provider import GcpProvider
from .resources import TYPES

__all__ = ["GcpProvider", "TYPES"]
