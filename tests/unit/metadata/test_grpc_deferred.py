"""ML Metadata is opened without importing gRPC (zplan never talks to a metadata server), and gRPC
still works for whatever needs it later in the same process."""

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
    print("grpc" in sys.modules, "asyncio" in sys.modules)

    import grpc  # another library wanting it: the real module
    from ml_metadata.metadata_store import metadata_store as mlmd_module
    print(type(grpc).__name__, hasattr(grpc, "insecure_channel"), mlmd_module.grpc.insecure_channel is grpc.insecure_channel)
    """
)


def test_recording_a_run_does_not_import_grpc_and_grpc_works_after(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _RECORD_A_RUN, str(tmp_path / "m.db")], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "module", "True", "True"]


def test_the_stand_in_used_while_still_in_place_gives_the_real_module(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from zplan.metadata.connection import _grpc_deferred

        with _grpc_deferred():
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
