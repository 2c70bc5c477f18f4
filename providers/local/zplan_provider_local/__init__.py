"""zplan's ``local`` provider: resources on this machine that need nothing installed."""

from __future__ import annotations

from .provider import LocalProvider

__all__ = ["LocalProvider"]
