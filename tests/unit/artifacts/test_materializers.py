from __future__ import annotations

import datetime
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from zplan.artifacts import (
    Materializer,
    NoMaterializer,
    declared_version,
    get_materializer,
    materializer,
    materializer_for,
    unregister,
)
from zplan.artifacts import materializers as registry
from zplan.hashing import hash_tree

from .helpers import SAMPLE, make_tree, read_tree

REPO = Path(__file__).resolve().parents[3]


def roundtrip(value: Any, folder: Path, handed_on: bool = False) -> tuple[Materializer, dict, Any]:
    m = materializer_for(value, handed_on)
    folder.mkdir(parents=True)
    meta = m.save(value, folder)
    return m, meta, get_materializer(m.name).load(folder)


def saved_bytes(value: Any, folder: Path, handed_on: bool = False) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    materializer_for(value, handed_on).save(value, folder)
    return read_tree(folder)


HANDED_ON = pytest.mark.parametrize("handed_on", [False, True], ids=["result", "handed-on"])
PANDAS_FORM = {False: "pandas.parquet", True: "pandas.arrow"}


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, math.nan, 2.25],
            "s": ["a", None, "c"],
            "cat": pd.Categorical(["u", "v", "u"]),
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]).tz_localize("UTC"),
            "maybe": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [{"b": [1, 2.5, None, True], "a": {"nested": "é"}}, [1, "two"], "text", 42, 3.5, False, None, {}],
)
def test_json_values_round_trip(value: Any, tmp_path: Path) -> None:
    m, meta, back = roundtrip(value, tmp_path / "a")
    assert m.name == "json"
    assert back == value and type(back) is type(value)
    assert meta["type"] == type(value).__name__


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
        max_leaves=20,
    )
)
def test_any_json_value_round_trips_with_stable_bytes(value: Any) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        m, _, back = roundtrip(value, Path(d, "a"))
        assert back == value
        assert saved_bytes(value, Path(d, "b")) == read_tree(Path(d, "a"))


def test_json_bytes_do_not_depend_on_key_order(tmp_path: Path) -> None:
    assert saved_bytes({"a": 1, "b": 2}, tmp_path / "1") == saved_bytes({"b": 2, "a": 1}, tmp_path / "2")


def test_bytes_round_trip(tmp_path: Path) -> None:
    m, meta, back = roundtrip(b"\x00\xffraw", tmp_path / "a")
    assert (m.name, meta, back) == ("bytes", {"type": "bytes", "size": 5}, b"\x00\xffraw")


@HANDED_ON
def test_a_dataframe_round_trips_with_index_and_dtypes(frame: pd.DataFrame, tmp_path: Path, handed_on: bool) -> None:
    m, meta, back = roundtrip(frame, tmp_path / "a", handed_on)
    assert m.name == PANDAS_FORM[handed_on]
    pd.testing.assert_frame_equal(back, frame)
    assert meta["rows"] == 3 and meta["columns"][:2] == ["n", "x"]


@HANDED_ON
@pytest.mark.filterwarnings("ignore:Series.values returning")  # (pandas' own, as it sets the time zone column)
def test_a_loaded_dataframe_can_be_changed_in_place_as_the_step_that_made_it_could(tmp_path: Path, handed_on: bool) -> None:
    """Every kind of column: a step may assign into its input, as it could into the frame its upstream returned."""
    made = pd.DataFrame({"f": np.arange(4.0), "i": np.arange(4), "b": [True, False, True, False], "s": list("abcd"),
                         "c": pd.Categorical(list("xyxy")), "n": pd.array([1, None, 3, 4], dtype="Int64"),
                         "t": pd.date_range("2020", periods=4, tz="UTC"), "d": pd.date_range("2020", periods=4)})
    _, _, back = roundtrip(made, tmp_path / "a", handed_on)
    for frame in (made, back):
        for column in frame.columns:
            frame.loc[0, column] = frame.loc[1, column]
    pd.testing.assert_frame_equal(back, made)
    assert back.loc[0, "c"] == "y" and back.loc[0, "f"] == 1.0


def test_a_dataframe_another_step_reads_is_mapped_from_its_stored_file(tmp_path: Path) -> None:
    """Read without a copy into new memory; the frame holds no view of the file for its numbers."""
    frame = pd.DataFrame({"x": np.arange(100_000.0), "s": ["v"] * 100_000})
    _, _, back = roundtrip(frame, tmp_path / "a", handed_on=True)
    stored = tmp_path / "a" / "frame.arrow"
    mapped = [line for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith(str(stored))]
    assert mapped  # the strings still point into the mapping, read-only as pandas keeps them
    back.loc[5, "x"] = -1.0  # the numbers were copied out: writable
    assert back.loc[5, "x"] == -1.0 and stored.stat().st_size > 800_000


def test_a_dataframe_another_step_reads_is_one_uncompressed_arrow_ipc_file(frame: pd.DataFrame, tmp_path: Path) -> None:
    import pyarrow.feather as feather

    roundtrip(frame, tmp_path / "a", handed_on=True)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["frame.arrow"]
    table = feather.read_table(tmp_path / "a" / "frame.arrow")  # any Arrow reader opens it
    assert table.column("x").chunks[0].buffers()[1].size >= 3 * 8  # plain values, not compressed
    pd.testing.assert_frame_equal(pd.read_feather(tmp_path / "a" / "frame.arrow"), frame)


def test_a_dataframe_written_as_parquet_by_an_earlier_version_still_loads(frame: pd.DataFrame, tmp_path: Path) -> None:
    """Bytes as zplan wrote every DataFrame before the Arrow IPC form existed (its recorded name: pandas.parquet)."""
    import json

    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame)
    extra = json.dumps({"freq": None}).encode()
    table = table.replace_schema_metadata({**table.schema.metadata, b"zplan.pandas": extra})
    pq.write_table(table, tmp_path / "frame.parquet", compression="zstd")
    pd.testing.assert_frame_equal(get_materializer("pandas.parquet").load(tmp_path), frame)
    with pytest.raises(FileNotFoundError, match="frame.arrow"):  # each form reads only its own files
        get_materializer("pandas.arrow").load(tmp_path)


def test_a_user_materializer_wins_over_the_handed_on_form_too(clean_registry: None, frame: pd.DataFrame) -> None:
    @materializer(pd.DataFrame, name="my-frames")
    class Mine:
        def save(self, value: pd.DataFrame, folder: Path) -> None: ...
        def load(self, folder: Path) -> pd.DataFrame: ...

    assert materializer_for(frame, handed_on=True).name == "my-frames"
    assert materializer_for({"a": 1}, handed_on=True).name == "json"  # no faster form: the same one


@pytest.mark.parametrize(
    "index",
    [
        pd.RangeIndex(5, 8),
        pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", "i"]),
        pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
        pd.timedelta_range("1h", periods=3, freq="15min"),
        pd.period_range("2024-01", periods=3, freq="M"),
    ],
)
@HANDED_ON
def test_dataframe_indexes_survive(index: pd.Index, tmp_path: Path, handed_on: bool) -> None:
    df = pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index)
    back = roundtrip(df, tmp_path / "a", handed_on)[2]
    pd.testing.assert_frame_equal(back, df)
    assert getattr(back.index, "freq", None) == getattr(df.index, "freq", None)


@pytest.mark.parametrize(
    "columns",
    [
        pd.Index([0, "a"]),
        pd.Index(["a", 1.5, None, ("b", 2)], dtype=object, tupleize_cols=False),
        pd.Index([True, False], name="flag"),
        pd.Index([pd.Timestamp("2024-01-01", tz="UTC"), "total"], dtype=object),
        pd.CategoricalIndex(["x", "y"], categories=["y", "x", "z"], ordered=True),
    ],
    ids=["mixed", "mixed-with-tuple", "bools", "timestamp-and-text", "categorical"],
)
@HANDED_ON
def test_dataframe_column_labels_of_any_kind_survive(columns: pd.Index, tmp_path: Path, handed_on: bool) -> None:
    df = pd.DataFrame([list(range(len(columns)))], columns=columns)
    back = roundtrip(df, tmp_path / "a", handed_on)[2]
    pd.testing.assert_frame_equal(back, df)
    assert [type(c) for c in back.columns] == [type(c) for c in df.columns]


def test_a_label_that_cannot_be_stored_is_a_clear_error(tmp_path: Path) -> None:
    from zplan.diags import DiagnosticError

    df = pd.DataFrame([[1, 2]], columns=[pd.Period("2024-01"), "a"])
    with pytest.raises(DiagnosticError, match=r"column label Period\('2024-01', 'M'\) \(a pandas.Period\) cannot be stored"):
        materializer_for(df).save(df, tmp_path)
    series = pd.Series([1], name=pd.Period("2024-01"))
    with pytest.raises(DiagnosticError, match=r"the Series name Period\('2024-01', 'M'\) \(a pandas.Period\) cannot be stored"):
        materializer_for(series).save(series, tmp_path)


@HANDED_ON
@pytest.mark.parametrize("name", [None, "price", 0, ("price", "mean"), ("a", ("b", 1)), pd.Timestamp("2024-06-01 12:00", tz="Europe/Paris"),
                                  pd.Timestamp("2024-01-01").as_unit("ns"), datetime.date(2024, 1, 2), ("a", pd.Timestamp("2024-01-01")),
                                  np.str_("price"), np.int64(3)])
def test_a_series_round_trips_with_its_name(name: Any, tmp_path: Path, handed_on: bool) -> None:
    s = pd.Series([1.5, None, 3.0], index=pd.Index(["a", "b", "c"], name="k"), name=name, dtype="Float64")
    m, meta, back = roundtrip(s, tmp_path / "a", handed_on)
    assert m.name == PANDAS_FORM[handed_on] and meta["type"] == "pandas.Series"
    pd.testing.assert_series_equal(back, s)


@HANDED_ON
def test_saving_the_same_frame_twice_gives_identical_bytes(frame: pd.DataFrame, tmp_path: Path, handed_on: bool) -> None:
    a = saved_bytes(frame, tmp_path / "1", handed_on)
    b = saved_bytes(frame.copy(deep=True), tmp_path / "2", handed_on)
    assert a == b
    assert hash_tree(tmp_path / "1") == hash_tree(tmp_path / "2")


@pytest.mark.parametrize(
    "value", [np.arange(12, dtype=np.int32).reshape(3, 4), np.array([[1.5, np.nan]]), np.array(["a", "bc"]), np.zeros(0)]
)
def test_numpy_arrays_round_trip(value: np.ndarray, tmp_path: Path) -> None:
    m, meta, back = roundtrip(value, tmp_path / "a")
    assert m.name == "numpy.npy" and meta["shape"] == list(value.shape)
    assert type(back) is np.ndarray and back.dtype == value.dtype
    np.testing.assert_array_equal(back, value)
    assert saved_bytes(value, tmp_path / "b") == read_tree(tmp_path / "a")


def test_a_numpy_scalar_comes_back_as_a_scalar(tmp_path: Path) -> None:
    m, _, back = roundtrip(np.float32(2.5), tmp_path / "a")
    assert m.name == "numpy.npy"
    assert type(back) is np.float32 and back == np.float32(2.5)


def test_a_memory_mapped_array_is_stored_as_a_plain_array(tmp_path: Path) -> None:
    mapped = np.memmap(tmp_path / "m.bin", dtype=np.int32, mode="w+", shape=(3,))
    mapped[:] = [1, 2, 3]
    m, _, back = roundtrip(mapped, tmp_path / "a")
    assert m.name == "numpy.npy" and type(back) is np.ndarray and back.tolist() == [1, 2, 3]


def test_object_arrays_are_refused_rather_than_pickled() -> None:
    with pytest.raises(NoMaterializer, match="numpy.ndarray"):
        materializer_for(np.array([{"a": 1}], dtype=object))


@HANDED_ON
def test_an_arrow_table_round_trips_with_stable_bytes(tmp_path: Path, handed_on: bool) -> None:
    table = pa.table({"a": [1, 2, None], "b": ["x", "y", "z"]}, metadata={"source": "test"})
    m, meta, back = roundtrip(table, tmp_path / "a", handed_on)
    assert m.name == ("arrow.ipc" if handed_on else "arrow.parquet") and meta["rows"] == 3
    assert back.equals(table) and back.schema.metadata[b"source"] == b"test"
    assert saved_bytes(table, tmp_path / "b", handed_on) == read_tree(tmp_path / "a")


@HANDED_ON
def test_time_types_parquet_has_no_unit_for_come_back_as_they_were(tmp_path: Path, handed_on: bool) -> None:
    day = 86_400_000
    table = pa.table({"t": pa.array([0, 1], pa.timestamp("s", "UTC")), "d": pa.array([day, 2 * day], pa.date64()),
                      "clock": pa.array([1, 2], pa.time32("s")), "ts": pa.array([[0], [1]], pa.list_(pa.timestamp("s")))})
    back = roundtrip(table, tmp_path / "a", handed_on)[2]
    assert back.schema == table.schema and back.equals(table)
    seconds = np.array(["2024-01-01T10:00:00", "2024-01-02"], dtype="datetime64[s]")
    df = pd.DataFrame({"when": seconds, "utc": pd.DatetimeIndex(seconds).tz_localize("UTC")}, index=pd.DatetimeIndex(seconds, name="i"))
    pd.testing.assert_frame_equal(roundtrip(df, tmp_path / "b", handed_on)[2], df)  # datetime64[s], not [ms]


def test_a_sklearn_estimator_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    m, meta, back = roundtrip(model, tmp_path / "a")
    assert m.name == "sklearn.pickle" and meta["type"] == "sklearn.pipeline.Pipeline"
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))


def test_a_path_to_a_file_keeps_its_name(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "scratch-x1", {"model.onnx": b"onnx"}) / "model.onnx"
    m, meta, back = roundtrip(src, tmp_path / "a")
    assert m.name == "path" and meta == {"type": "file", "name": "model.onnx", "size": 4}
    assert back.name == "model.onnx" and back.read_bytes() == b"onnx"


def test_a_path_to_a_folder_is_copied_whole_and_its_own_name_does_not_count(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "scratch-1", SAMPLE)
    two = make_tree(tmp_path / "scratch-2", SAMPLE)
    m, meta, back = roundtrip(one, tmp_path / "a")
    assert meta == {"type": "folder", "files": len(SAMPLE), "size": sum(map(len, SAMPLE.values()))}
    assert read_tree(back) == SAMPLE
    roundtrip(two, tmp_path / "b")
    assert hash_tree(tmp_path / "a") == hash_tree(tmp_path / "b")


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    from zplan.diags import DiagnosticError

    (tmp_path / "a").mkdir()
    with pytest.raises(DiagnosticError, match="returned the path .*gone, which does not exist"):
        materializer_for(tmp_path / "gone").save(tmp_path / "gone", tmp_path / "a")


# --- lookup and registration ------------------------------------------------------------------


class Quotes(pd.Series):
    @property
    def _constructor(self) -> type:
        return Quotes


class Prices(pd.DataFrame):
    """A frame with methods of its own: pandas keeps the class through its operations (``_constructor``)."""

    @property
    def _constructor(self) -> type:
        return Prices

    @property
    def _constructor_sliced(self) -> type:
        return Quotes


@pytest.mark.parametrize(
    "value,why",
    [
        ((1, 2), "type tuple"),
        ({1: "a"}, "value has a int key 1 (JSON keys are strings)"),
        ({"a": [1, (2,)]}, "value['a'][1] is a tuple"),
        ({"a": np.float64(1.0)}, "value['a'] is a numpy.float64"),
        (np.matrix([[1, 2]]), "numpy.matrix (a subclass of numpy.ndarray: stored as .npy it would come back a plain array"),
        (np.ma.array([1, 2], mask=[0, 1]), "numpy.ma.MaskedArray (a subclass of numpy.ndarray"),
        (Prices({"eur": [1.5]}), "Prices (a subclass of pandas.DataFrame: stored as Parquet it would come back a plain DataFrame"),
        (Prices({"eur": [1.5]})["eur"], "Quotes (a subclass of pandas.Series: stored as Parquet it would come back a plain Series"),
    ],
)
def test_values_nothing_can_store_get_a_helpful_error(value: Any, why: str) -> None:
    with pytest.raises(NoMaterializer) as e:
        materializer_for(value)
    assert why in str(e.value)
    assert "@zplan.materializer(" in str(e.value)
    assert isinstance(e.value, TypeError)


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class Special(dict):
    pass


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = list(registry._user)
    yield
    registry._user[:] = before


def test_a_user_materializer_is_registered_by_type(clean_registry: None, tmp_path: Path) -> None:
    @materializer(Point)
    class PointMaterializer:
        version = "3"

        def save(self, value: Point, folder: Path) -> None:
            (folder / "p.txt").write_text(f"{value.x},{value.y}")

        def load(self, folder: Path) -> Point:
            return Point(*map(int, (folder / "p.txt").read_text().split(",")))

    m, meta, back = roundtrip(Point(1, 2), tmp_path / "a")
    assert m.name.endswith("PointMaterializer") and m.version == "3" and meta == {}
    assert (back.x, back.y) == (1, 2)
    assert declared_version(m.name) == "3"
    assert isinstance(PointMaterializer(), PointMaterializer)  # the decorator returns the class


def test_a_user_materializer_wins_over_the_built_in(clean_registry: None, tmp_path: Path) -> None:
    @materializer(dict, name="dict-as-lines")
    class DictLines:
        def save(self, value: dict, folder: Path) -> dict:
            (folder / "lines.txt").write_text("\n".join(f"{k}={v}" for k, v in value.items()))
            return {"keys": len(value)}

        def load(self, folder: Path) -> dict:
            return dict(line.split("=") for line in (folder / "lines.txt").read_text().splitlines())

    m, meta, back = roundtrip({"a": "1"}, tmp_path / "a")
    assert (m.name, meta, back) == ("dict-as-lines", {"keys": 1}, {"a": "1"})
    assert materializer_for([1]).name == "json"  # only dicts were claimed
    unregister("dict-as-lines")
    assert materializer_for({"a": "1"}).name == "json"


def test_the_most_specific_registration_wins_then_the_newest(clean_registry: None) -> None:
    def plain(name: str) -> type:
        return type(name, (), {"save": lambda self, v, f: None, "load": lambda self, f: None, "name": name})

    materializer(Special)(plain("special"))
    materializer(dict)(plain("dict-old"))
    materializer(dict)(plain("dict-new"))
    assert materializer_for(Special()).name == "special"  # registered earlier, but more specific
    assert materializer_for({}).name == "dict-new"


def test_a_name_registration_decides_through_can_save(clean_registry: None) -> None:
    @materializer("even-ints")
    class EvenInts(Materializer):
        def can_save(self, value: Any) -> bool:
            return type(value) is int and value % 2 == 0

        def save(self, value: int, folder: Path) -> dict:
            return {}

        def load(self, folder: Path) -> int:
            return 0

    assert materializer_for(4).name == "even-ints"
    assert materializer_for(3).name == "json"
    assert get_materializer("even-ints").version == "1"


def test_bad_registrations_are_refused(clean_registry: None) -> None:
    with pytest.raises(TypeError, match="needs save"):
        materializer(Point)(type("NoLoad", (), {"save": lambda self, v, f: None}))
    with pytest.raises(TypeError, match="needs a can_save"):
        materializer("by-name")(type("NoCheck", (), {"save": lambda s, v, f: None, "load": lambda s, f: None}))
    with pytest.raises(ValueError, match="'json' is built in"):
        materializer(Point, name="json")(type("Clash", (), {"save": lambda s, v, f: None, "load": lambda s, f: None}))
    with pytest.raises(TypeError, match="takes a type"):
        materializer(42)  # type: ignore[arg-type]


def test_unknown_names_say_how_to_fix_it() -> None:
    with pytest.raises(NoMaterializer, match="no materializer named 'nope'.*'zplan.materializers' entry points"):
        get_materializer("nope")


def test_built_in_versions_are_declared() -> None:
    # 2: what files their version 1 wrote load as changed (labels, Series names, seconds units),
    # so the steps that wrote or read such files run again
    versions = {"json": "1", "bytes": "1", "pandas.parquet": "2", "pandas.arrow": "2", "numpy.npy": "1", "sklearn.pickle": "1",
                "arrow.parquet": "2", "arrow.ipc": "1", "path": "1"}
    assert {name: declared_version(name) for name in versions} == versions


# --- plugins and imports ----------------------------------------------------------------------


def test_a_plugin_materializer_is_found_through_entry_points(tmp_path: Path) -> None:
    # A real installed distribution (a dist-info folder on sys.path) declaring the entry point.
    site = make_tree(
        tmp_path / "site",
        {
            "zplan_fake_plugin.py": textwrap.dedent(
                """
                from zplan.artifacts import Materializer

                class Complex(Materializer):
                    name = "fake.complex"
                    version = "7"
                    def can_save(self, value): return type(value) is complex
                    def save(self, value, folder):
                        (folder / "c.txt").write_text(repr(value)); return {}
                    def load(self, folder): return complex((folder / "c.txt").read_text())
                """
            ).encode(),
            "zplan_fake_plugin-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: zplan-fake-plugin\nVersion: 1.0\n",
            "zplan_fake_plugin-1.0.dist-info/entry_points.txt": b"[zplan.materializers]\ncomplex = zplan_fake_plugin:Complex\n",
        },
    )
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(site)!r})
        from zplan.artifacts import materializer_for, declared_version
        from zplan.artifacts.materializers import declared_libraries
        m = materializer_for(1+2j)
        folder = Path({str(tmp_path / "out")!r}); folder.mkdir()
        m.save(1+2j, folder)
        print(m.name, declared_version("fake.complex"), m.load(folder), *declared_libraries("fake.complex"))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    # its package is keyed for the steps reading what it wrote: a new release may load them otherwise
    assert out.stdout.split() == ["fake.complex", "7", "(1+2j)", "zplan_fake_plugin"]


def test_a_value_a_builtin_stores_never_reads_the_installed_packages() -> None:
    # Plugins are looked up on a miss only: every step worker stores outputs, and reading every
    # installed package's entry points costs ~20 ms a worker.
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from zplan.artifacts import materializer_for
        for v in (1, {"a": [1.5]}, b"x", Path("."), None):
            materializer_for(v)
            materializer_for(v, handed_on=True)
        print("importlib.metadata" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lookup_and_registration_import_no_data_library() -> None:
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from zplan.artifacts import materializer, materializer_for, get_materializer, declared_version

        @materializer(complex)
        class C:
            def save(self, v, f): pass
            def load(self, f): pass

        for v in ({"a": 1}, b"x", Path("."), 1j):
            materializer_for(v)
        [declared_version(n) for n in ("pandas.parquet", "pandas.arrow", "sklearn.pickle", "arrow.parquet", "arrow.ipc", "numpy.npy")]
        print(sorted({"pandas", "numpy", "pyarrow", "sklearn"} & set(sys.modules)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
