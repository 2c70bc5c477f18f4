"""Read numbers from a text file, then scale them."""

from pathlib import Path

from steps.util import clean


def load(raw: Path) -> list:
    """One number per line; blank lines are skipped."""
    return [float(clean(line)) for line in raw.read_text().splitlines() if clean(line)]


def scale(values: list, c: float) -> list:
    # multiply every value by c
    return [v * c for v in values]
