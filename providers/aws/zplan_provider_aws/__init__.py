"""zplan's ``aws`` provider (resource types ``aws_*``), applied through pulumi-aws.

Importing it does not import Pulumi; see ``resources.TYPES`` for the mapping.
"""

from __future__ import annotations

from .provider import AwsProvider
from .resources import TYPES

__all__ = ["AwsProvider", "TYPES"]
