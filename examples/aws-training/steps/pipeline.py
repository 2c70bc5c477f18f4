"""A small classification pipeline whose data is generated with a fixed seed."""

import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression


def generate(rows: int, seed: int) -> pd.DataFrame:
    x, y = make_classification(n_samples=rows, n_features=8, random_state=seed)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["label"] = y
    return frame


def train(data: pd.DataFrame, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=500).fit(data.drop(columns=["label"]), data["label"])


def evaluate(model: LogisticRegression, data: pd.DataFrame) -> float:
    return round(float(model.score(data.drop(columns=["label"]), data["label"])), 4)
