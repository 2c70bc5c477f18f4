"""Pandas labels (a Series name, column labels) as JSON beside a table, where Arrow's own pandas
metadata would not give them back as they were: tuples, timestamps and dates, mixed or bool
labels, a CategoricalIndex of columns."""

from __future__ import annotations

from typing import Any

from zplan.diags import fail


def from_json(value: Any) -> Any:
    """A label (Series name, column label) as ``to_json`` wrote it: JSON writes a tuple (a name
    from MultiIndex columns, ``("price", "mean")``) as a list, and a label is hashable, so a list
    was a tuple; a dict is a tagged timestamp or date."""
    if isinstance(value, list):
        return tuple(map(from_json, value))
    if isinstance(value, dict) and "timestamp" in value:
        import pandas as pd

        stamp = pd.Timestamp(value["timestamp"]).as_unit(value["unit"])
        return stamp.tz_convert(value["tz"]) if value["tz"] else stamp
    if isinstance(value, dict) and "date" in value:
        import datetime

        return datetime.date.fromisoformat(value["date"])
    return value


def columns_record(columns: Any) -> dict[str, Any] | None:
    """Column labels Arrow's pandas metadata would not give back, as JSON (None when it would):
    it turns mixed labels (``[0, "a"]``) into strings, every bool label into True (the string
    "False" is true) and cannot read back a CategoricalIndex."""
    import pandas as pd

    if isinstance(columns, pd.CategoricalIndex):
        return {"labels": _to_json_all(columns), "categories": _to_json_all(columns.categories), "ordered": bool(columns.ordered)}
    mixed = columns.dtype == object and not isinstance(columns, pd.MultiIndex) and any(type(c) is not str for c in columns)
    if mixed or columns.dtype == bool:
        return {"labels": _to_json_all(columns), "dtype": str(columns.dtype)}
    return None


def _to_json_all(labels: Any) -> list[Any]:
    return [to_json(label) for label in labels]


def to_json(label: Any, what: str = "the DataFrame's column label") -> Any:
    """A label as JSON that ``from_json`` gives back unchanged, or an error naming it."""
    import datetime

    import numpy as np
    import pandas as pd

    from zplan.artifacts.builtin_materializers import type_name

    if isinstance(label, (np.number, np.bool_)):
        label = label.item()  # a numpy scalar: its Python value
    if type(label) in (str, int, float, bool, type(None)):
        return label
    if isinstance(label, str):  # np.str_ (a label taken from a numpy array of strings)
        return str(label)
    if type(label) is tuple:
        return [to_json(part, what) for part in label]
    if type(label) is pd.Timestamp:  # a row of a frame indexed by time (df.loc[day]) is named so
        return {"timestamp": label.isoformat(), "tz": str(label.tz) if label.tz else None, "unit": label.unit}
    if type(label) is datetime.date:
        return {"date": label.isoformat()}
    raise fail(
        f"{what} {label!r} (a {type_name(label)}) cannot be stored",
        "use strings, numbers, bools, timestamps, dates or tuples of them as names (or register a materializer)",
    )


def restored_columns(record: dict[str, Any], name: Any) -> Any:
    import pandas as pd

    labels = [from_json(c) for c in record["labels"]]
    if "categories" in record:
        categories = [from_json(c) for c in record["categories"]]
        return pd.CategoricalIndex(labels, categories=categories, ordered=record["ordered"], name=name)
    return pd.Index(labels, dtype=record["dtype"], name=name, tupleize_cols=False)
