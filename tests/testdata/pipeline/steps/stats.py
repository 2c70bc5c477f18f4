"""Summaries of a list of numbers."""


def total(values: list) -> float:
    return round(sum(values), 6)


def count(values: list) -> int:
    return len(values)
