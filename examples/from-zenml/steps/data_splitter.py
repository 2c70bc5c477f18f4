from typing import Tuple

import pandas as pd
from sklearn.model_selection import train_test_split
from typing_extensions import Annotated

try:
    from zenml import step
except ImportError:  # run by zplan without ZenML installed
    from zplan import step


@step
def data_splitter(dataset: pd.DataFrame, test_size: float = 0.2) -> Tuple[
    Annotated[pd.DataFrame, "raw_dataset_trn"],
    Annotated[pd.DataFrame, "raw_dataset_tst"],
]:
    dataset_trn, dataset_tst = train_test_split(dataset, test_size=test_size, random_state=42, shuffle=True)
    return dataset_trn, dataset_tst
