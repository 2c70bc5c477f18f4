"""ML Metadata is opened without importing gRPC (zplan never talks to a metadata server) or absl's
logging (its INFO lines are dropped unless asked for), and both still work for whatever needs them
later in the same process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

_RECORD_A_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from zplan.metadata import MetadataStore, applier, git_info

    store = MetadataStore.from_url("sqlite:///" + sys.argv[1], Path("."))
    run = store.start_run("p", "local", git_info(Path(".")), time.time(), applier())
    store.finish_run(run, "succeeded", time.time())
    store.close()
    assert [r.number for r in MetadataStore.from_url("sqlite:///" + sys.argv[1], Path(".")).runs()] == [run]
    print("grpc" in sys.modules, "asyncio" in sys.modules, "absl.logging" in sys.modules, "logging" in sys.modules)

    import grpc  # another library wanting it: the real module
    from ml_metadata.metadata_store import metadata_store as mlmd_module
    print(type(grpc).__name__, hasattr(grpc, "insecure_channel"), mlmd_module.grpc.insecure_channel is grpc.insecure_channel)
    """
)


def test_recording_a_run_does_not_import_grpc_and_grpc_works_after(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _RECORD_A_RUN, str(tmp_path / "m.db")], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False", "False", "module", "True", "True"]


def test_the_stand_in_used_while_still_in_place_gives_the_real_module(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from zplan.metadata.connection import _deferred_imports

        with _deferred_imports():
            import grpc
            stand_in = grpc
            channel = grpc.insecure_channel  # a library touching gRPC while MLMD imports
        import grpc
        print(grpc is not stand_in, channel is grpc.insecure_channel, type(sys.modules["grpc"]).__name__)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "module"]


_ABSL_AFTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from zplan.metadata import MetadataStore, applier, git_info

    def open_store():
        store = MetadataStore.from_url("sqlite:///" + sys.argv[1], Path("."))
        assert len(store.runs()) == 1
        store.close()

    store = MetadataStore.from_url("sqlite:///" + sys.argv[1], Path("."))
    store.finish_run(store.start_run("p", "local", git_info(Path(".")), time.time(), applier()), "succeeded", time.time())
    store.close()
    open_store()  # the INFO line MLMD logs as it opens a store: dropped, absl not imported
    print("absl.logging" in sys.modules)
    import logging
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s", stream=sys.stdout)
    open_store()  # asked for INFO: the line goes through the real absl
    from absl import logging as absl_logging
    print(type(logging.getLogger("absl")).__name__, absl_logging.INFO)
    """
)


def test_absl_logging_is_imported_only_when_its_line_would_show(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _ABSL_AFTER, str(tmp_path / "m.db")], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "False"
    assert "absl INFO MetadataStore with DB connection initialized" in lines[1:-1]
    assert lines[-1] == "ABSLLogger 0"  # absl made its own logger: the stand-in never made a plain one


def test_a_warning_goes_to_absl_without_logging_configured(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from zplan.metadata.connection import _mlmd
        mlmd_logging = _mlmd().ms.metadata_store.logging
        mlmd_logging.log(mlmd_logging.INFO, "not shown")
        print("absl.logging" in sys.modules, flush=True)
        mlmd_logging.log(mlmd_logging.WARNING, "shown %s", "here")
        print("absl.logging" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
    assert "shown here" in out.stderr and "not shown" not in out.stderr
