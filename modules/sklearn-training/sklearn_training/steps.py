"""The steps of the sklearn-training module: split -> train -> evaluate.

Self-contained (only pandas, scikit-learn and zplan), so the module works whatever
the calling project's own step packages are called.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

import zplan

# Short estimator names -> scikit-learn classes; any other value is a class path.
ESTIMATORS = {
    "logistic_regression": "sklearn.linear_model.LogisticRegression",
    "random_forest": "sklearn.ensemble.RandomForestClassifier",
    "gradient_boosting": "sklearn.ensemble.GradientBoostingClassifier",
    "svc": "sklearn.svm.SVC",
    "ridge": "sklearn.linear_model.Ridge",
    "linear_regression": "sklearn.linear_model.LinearRegression",
}


def read_table(data: Path) -> pd.DataFrame:
    """A CSV file, or every CSV file of a folder (sorted by name) one after the other."""
    data = Path(data)
    files = sorted(data.rglob("*.csv")) if data.is_dir() else [data]
    if not files:
        raise ValueError(f"no CSV file in {data}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


@zplan.step(outputs=["train", "test"])
def split(data: Path, target: str, test_size: float, seed: int, stratify: bool):
    from sklearn.model_selection import train_test_split

    frame = read_table(data)
    if target not in frame.columns:
        raise ValueError(f"the data has no column {target!r} (columns: {', '.join(map(str, frame.columns))})")
    train, test = train_test_split(frame, test_size=test_size, random_state=seed,
                                   stratify=frame[target] if stratify else None)
    return {"train": train.reset_index(drop=True), "test": test.reset_index(drop=True)}


def make_estimator(estimator: str, hyperparameters: dict, seed: int):
    """The estimator named by ``estimator``, given ``hyperparameters`` (and ``seed`` when it takes one)."""
    path = ESTIMATORS.get(estimator, estimator)
    module, _, name = path.rpartition(".")
    if not module:
        raise ValueError(f"unknown estimator {estimator!r}: use one of {', '.join(ESTIMATORS)} or a class path")
    cls = getattr(importlib.import_module(module), name)
    kwargs = dict(hyperparameters)
    if "random_state" in cls().get_params() and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    return cls(**kwargs)


def train(train: pd.DataFrame, target: str, estimator: str, hyperparameters: dict, scale: bool, seed: int):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_estimator(estimator, hyperparameters, seed)
    if scale:
        model = make_pipeline(StandardScaler(), model)
    features = train.drop(columns=[target]).to_numpy(dtype=float)
    return model.fit(features, train[target].to_numpy())


def evaluate(model, test: pd.DataFrame, target: str, metric: str) -> float:
    from sklearn.metrics import get_scorer

    features = test.drop(columns=[target]).to_numpy(dtype=float)
    return float(get_scorer(metric)(model, features, test[target].to_numpy()))
