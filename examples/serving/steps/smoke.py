"""Check the deployed model: send the test set to the server, compare with the offline evaluation."""

import json
import urllib.request

import pandas as pd

from steps.data import LABEL


def smoke_test(test: pd.DataFrame, accuracy: float, url: str, model: str) -> float:
    features = test.drop(columns=[LABEL]).to_numpy(dtype=float)
    request = {"inputs": [{"name": "features", "shape": list(features.shape), "datatype": "FP64",
                           "data": features.ravel().tolist()}]}
    predictions = predict(url, model, request)
    served = float((pd.Series(predictions) == test[LABEL].to_numpy()).mean())
    if served != accuracy:
        raise AssertionError(f"served accuracy {served} differs from the offline accuracy {accuracy}")
    return served


def predict(url: str, model: str, request: dict) -> list:
    """One Open Inference Protocol (V2) request: POST /v2/models/NAME/infer."""
    body = json.dumps(request).encode()
    req = urllib.request.Request(f"{url}/v2/models/{model}/infer", body, {"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the server is on this machine
    with opener.open(req, timeout=30) as resp:
        return json.loads(resp.read())["outputs"][0]["data"]
