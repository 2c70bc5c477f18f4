"""The settings of the libraries a step may configure, put back after it in its worker (``step_isolation``):
numpy's error handling and print options, pandas' options, scikit-learn's configuration (each only when
imported: a library one step imported and configured starts the next step at its defaults), and the global
random generators, reseeded before each step as a new process would find them."""

from __future__ import annotations

import os
import random
import sys
import warnings
from typing import Any

_NUMPY_ERRORS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}  # numpy's defaults
_NUMPY_PRINT = {"edgeitems": 3, "threshold": 1000, "floatmode": "maxprec", "precision": 8, "suppress": False, "linewidth": 75,
                "nanstr": "nan", "infstr": "inf", "sign": "-", "formatter": None, "legacy": False, "override_repr": None}


def fresh_random_state() -> None:
    # From 128 bits of entropy each: half the cost of seed() for random, a tenth for numpy (both read 624 words)
    random.seed(int.from_bytes(os.urandom(16), "little"))
    legacy = getattr(sys.modules.get("numpy.random"), "seed", None)
    if legacy is not None:
        legacy(memoryview(os.urandom(16)).cast("I").tolist())


def numpy_settings() -> tuple | None:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    return numpy.geterr(), numpy.geterrcall(), numpy.get_printoptions()


def restore_numpy(before: tuple | None) -> None:
    """numpy's error handling and print options as before the step; at their defaults after the step
    that imported numpy."""
    numpy = sys.modules.get("numpy")
    if numpy is None or not hasattr(numpy, "get_printoptions"):  # (an import that failed half-way)
        return
    printing = numpy.get_printoptions()
    errors, call, options = before or (_NUMPY_ERRORS, None, {k: v for k, v in _NUMPY_PRINT.items() if k in printing})
    if numpy.geterr() != errors:
        numpy.seterr(**errors)
    if numpy.geterrcall() is not call:
        numpy.seterrcall(call)
    if printing != options:
        numpy.set_printoptions(**options)


def pandas_options() -> dict | None:
    table = getattr(sys.modules.get("pandas._config.config"), "_global_config", None)
    return _copied(table) if isinstance(table, dict) else None


def _copied(options: dict) -> dict:
    return {k: _copied(v) if isinstance(v, dict) else v for k, v in options.items()}


def restore_pandas(before: dict | None) -> None:
    """pandas' options as before the step (set again through ``set_option``, which runs their
    callbacks); at their defaults after the step that imported pandas."""
    config = sys.modules.get("pandas._config.config")
    table = getattr(config, "_global_config", None)
    if not isinstance(table, dict) or table == before:
        return
    now = _flat(table)
    then = _flat(before) if before is not None else {k: o.defval for k, o in getattr(config, "_registered_options", {}).items()}
    changed = {k: v for k, v in then.items() if k in now and now[k] != v}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a deprecated option warns when set)
        for key, value in changed.items():
            config.set_option(key, value)


def sklearn_config() -> dict | None:
    config = sys.modules.get("sklearn._config")
    return config.get_config() if hasattr(config, "get_config") else None


def restore_sklearn(before: dict | None) -> None:
    """scikit-learn's configuration (``set_config(transform_output="pandas")`` changes what every transformer
    returns) as before the step; at its defaults after the step that imported it."""
    config = sys.modules.get("sklearn._config")
    if not hasattr(config, "get_config"):
        return
    now = config.get_config()
    then = before if before is not None else getattr(config, "_global_config", {})  # (set_config leaves it: the defaults)
    changed = {k: v for k, v in then.items() if k in now and now[k] != v}
    if changed:
        config.set_config(**changed)


def _flat(options: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in options.items():
        if isinstance(v, dict):
            flat.update(_flat(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat
