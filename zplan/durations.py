"""Terraform-style durations ("30s", "5m", "1h", "1h30m"; a bare number is seconds)."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Longer would overflow the clocks a timeout is waited on with (the apply's supervisor would crash)
MAX_SECONDS = 100 * 365 * 86400.0


def parse_seconds(text: str) -> float:
    """Seconds in ``text``; raises ValueError with the accepted forms."""
    text = text.strip().lower()
    total = _seconds(text)
    if not math.isfinite(total) or abs(total) > MAX_SECONDS:  # "inf", "nan", "1e20s"
        raise ValueError(f"{text!r} is not a duration of at most 100 years; use a form like 30s, 10m, 1h or 1h30m")
    return total


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration; use a form like 30s, 10m, 1h or 1h30m")
    return total


def timeout_seconds(value: object) -> float:
    """A timeout from a configuration value: a positive duration ("10m") or number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{value!r} is not a duration; use a form like 30s, 10m, 1h or 1h30m")
    seconds = parse_seconds(str(value))
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration; use a form like 30s, 10m, 1h or 1h30m")
    return seconds
