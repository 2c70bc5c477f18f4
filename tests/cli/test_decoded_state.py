"""An apply leaves the decoded copy of the state it wrote, so the next plan need not decode the JSON."""

from __future__ import annotations

from zplan.hashing import hash_bytes


def test_an_apply_leaves_the_copy_of_the_state_it_wrote_and_its_own_plan_keeps_none(project):
    copy = project.root / ".zplan" / "cache" / "state.json.decoded"
    project.apply()
    header = copy.read_bytes().partition(b"\n")[0].decode()
    assert hash_bytes((project.root / ".zplan" / "state.json").read_bytes()) in header  # of the state the apply left
    copy.unlink()
    project.apply()  # no change: its plan reads the state and keeps no copy; nothing is written
    assert not copy.exists()
    project.ok("plan")
    assert copy.exists()
