import logging

import pandas as pd
from sklearn.datasets import load_breast_cancer
from typing_extensions import Annotated

try:
    from zenml import step
except ImportError:  # run by zplan without ZenML installed
    from zplan import step

logger = logging.getLogger(__name__)


@step
def data_loader(random_state: int, target: str = "target") -> Annotated[pd.DataFrame, "dataset"]:
    """The breast cancer data set that ships with scikit-learn, shuffled."""
    dataset = load_breast_cancer(as_frame=True).frame.rename(columns={"target": target})
    dataset = dataset.sample(frac=1.0, random_state=random_state).reset_index(drop=True)
    logger.info("Dataset with %d records loaded!", len(dataset))
    return dataset
