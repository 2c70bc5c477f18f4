"""Penguin measurements, generated with a fixed seed (three species, four measurements)."""

from pathlib import Path

import numpy as np
import pandas as pd

import zplan

# Mean and spread of each measurement, per species (roughly those of the Palmer penguins).
SPECIES = {
    0: {"culmen_length_mm": (38.8, 2.7), "culmen_depth_mm": (18.3, 1.2), "flipper_length_mm": (190.0, 6.5), "body_mass_g": (3700.0, 460.0)},
    1: {"culmen_length_mm": (48.8, 3.3), "culmen_depth_mm": (18.4, 1.1), "flipper_length_mm": (196.0, 7.1), "body_mass_g": (3730.0, 380.0)},
    2: {"culmen_length_mm": (47.5, 3.1), "culmen_depth_mm": (15.0, 1.0), "flipper_length_mm": (217.0, 6.5), "body_mass_g": (5080.0, 500.0)},
}


def penguins(rows: int, seed: int) -> Path:
    """A folder holding penguins.csv: what CsvExampleGen reads as its input_base."""
    rng = np.random.default_rng(seed)
    species = rng.integers(0, len(SPECIES), size=rows)
    table = pd.DataFrame({"species": species})
    for column in SPECIES[0]:
        means = np.array([SPECIES[s][column][0] for s in species])
        spreads = np.array([SPECIES[s][column][1] for s in species])
        table[column] = np.round(rng.normal(means, spreads), 1)
    folder = zplan.current().scratch_dir / "penguins"
    folder.mkdir()
    table.to_csv(folder / "penguins.csv", index=False)
    return folder
