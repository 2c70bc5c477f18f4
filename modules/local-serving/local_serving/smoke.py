"""The smoke test of the local-serving module: one predict call to the served model.

Self-contained (standard library only), so it runs in any project that calls the module.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def smoke_test(url: str, model: str, digest: str, rows: list, expected: list | None = None) -> list:
    """POST ``rows`` to /v2/models/MODEL/infer; the predictions, one per row.

    Fails the step when the server does not answer, answers with another number of
    predictions, or (with ``expected``) predicts something else. ``digest`` is the served
    artifact's: the step reruns whenever another model is deployed."""
    if not rows or not all(isinstance(row, list) and row for row in rows):
        raise ValueError("sample must be a non-empty list of feature rows (lists of numbers)")
    predictions = predict(url, model, rows)
    if len(predictions) != len(rows):
        raise AssertionError(f"the server returned {len(predictions)} predictions for {len(rows)} rows")
    if expected is not None and list(predictions) != list(expected):
        raise AssertionError(f"model {model} (artifact {digest[:12]}) predicted {predictions}, expected {expected}")
    return predictions


def predict(url: str, model: str, rows: list) -> list:
    """One Open Inference Protocol (V2) request."""
    width = len(rows[0])
    body = {"inputs": [{"name": "features", "shape": [len(rows), width], "datatype": "FP64",
                        "data": [float(x) for row in rows for x in row]}]}
    request = urllib.request.Request(f"{url}/v2/models/{model}/infer", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the server is on this machine
    try:
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read())["outputs"][0]["data"]
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"the server refused the request: HTTP {exc.code}: {exc.read()[:500]!r}") from None
