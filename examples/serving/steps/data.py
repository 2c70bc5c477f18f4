"""Data steps: load the wine dataset, split it, scale the features."""

from pathlib import Path

import pandas as pd

import zplan

LABEL = "target"


def load_csv(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv)


@zplan.step(outputs=["train", "test"])
def split(data: pd.DataFrame, test_size: float, seed: int):
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(data, test_size=test_size, random_state=seed, stratify=data[LABEL])
    return {"train": train.reset_index(drop=True), "test": test.reset_index(drop=True)}


@zplan.step(outputs=["train", "test"])
def scale(train: pd.DataFrame, test: pd.DataFrame):
    features = [c for c in train.columns if c != LABEL]
    mean, std = train[features].mean(), train[features].std().replace(0, 1)
    scaled = lambda df: df.assign(**{c: (df[c] - mean[c]) / std[c] for c in features})  # noqa: E731
    return scaled(train), scaled(test)
