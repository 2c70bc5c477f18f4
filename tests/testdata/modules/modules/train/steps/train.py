"""A module's own step code: sum the values, times c."""

from pathlib import Path


def load(raw: Path) -> list:
    return [float(line) for line in raw.read_text().split() if line.strip()]


def train(values: list, c: float, folder: str) -> float:
    return round(sum(values) * c, 6)
