"""A small look at a step output: the first rows of a table, the start of an array, a short JSON value.

Loaded through ``zplan.api`` (digest checked), only for the kinds of value that preview well and
only when small enough to read on a page request. Returned as plain data; templates escape it.
"""

from __future__ import annotations

from typing import Any

from zplan.render.console import json_text
from zplan.secrets import SENSITIVE

MAX_BYTES = 20 * 1024 * 1024  # larger artifacts are not loaded for a preview
ROWS = 8
PREVIEWABLE = ("pandas.parquet", "pandas.arrow", "arrow.parquet", "arrow.ipc", "numpy.npy", "json")


def of(project, address: str | None, output: str, run: int | None, record) -> dict | None:
    """{"kind": "table" | "text" | "error", "text", "columns", "rows", "shape"}, or None."""
    if address is None or record.materializer not in PREVIEWABLE or record.size > MAX_BYTES:
        return None
    try:
        artifact = project.artifact(address, output, run)
        if artifact.sensitive:  # made by a step given a secret: no page shows it
            return _preview("text", text=SENSITIVE)
        value = artifact.load()
    except Exception as exc:  # a damaged or unreachable artifact: say so, keep the page
        return _preview("error", text=f"cannot be previewed: {getattr(exc, 'summary', exc)}")
    preview = shown(value)
    if preview is not None and project.holds_secret([preview["text"], preview["columns"], preview["rows"]]):
        return _preview("text", text=SENSITIVE)  # a step not given the secret wrote it all the same
    return preview


def _preview(kind: str, text: str = "", columns: list | None = None, rows: list | None = None, shape: list | None = None) -> dict:
    """Every preview has the same keys, whatever its kind."""
    return {"kind": kind, "text": text, "columns": columns or [], "rows": rows or [], "shape": shape}


def shown(value: Any) -> dict | None:
    table = _table(value)
    if table is not None:
        return table
    if type(value).__module__ == "numpy":
        import numpy as np

        return _preview("text", np.array2string(np.asarray(value), threshold=60, edgeitems=4),
                        shape=list(getattr(value, "shape", ())) or None)
    text = json_text(value, default=str)  # "é" as written, a direction override escaped
    return _preview("text", text if len(text) <= 2000 else text[:2000] + " …")


def _table(value: Any) -> dict | None:
    if type(value).__module__.startswith("pyarrow"):
        value = value.to_pandas()
    if type(value).__module__.startswith("pandas") and hasattr(value, "head"):
        frame = value.to_frame() if hasattr(value, "to_frame") and value.ndim == 1 else value
        head = frame.head(ROWS)
        rows = [[_cell(v) for v in row] for row in head.itertuples(index=False, name=None)]
        return _preview("table", columns=[str(c) for c in head.columns], rows=rows, shape=list(frame.shape))
    return None


def _cell(value: Any) -> Any:
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 6)
    return str(value)
