"""A tiny hyperparameter sweep: score each c, then pick the best."""

from pathlib import Path


def load(raw: Path) -> list:
    return [float(line) for line in raw.read_text().split() if line.strip()]


def train(values: list, c: float) -> float:
    # the closer c is to 0.5, the better
    return round(sum(values) - abs(c - 0.5) * 10, 6)


def select_best(scores: list) -> float:
    return max(scores)


def best_point(scores: dict) -> str:
    return max(sorted(scores), key=lambda k: scores[k])
