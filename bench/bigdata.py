"""A cold run over one big data input, next to reading and hashing it by hand.

    .venv/bin/python bench/bigdata.py [--gib 2] [--repeat 3] [--before OLD_TREE] [--root DIR] [--cold] [--first-sight-only] [--reference] [--read-mbps N]

One project, one step reading ``data/big.bin`` (generated once, fixed seed) in 4 MiB blocks.
Whole processes (``measure.run``), interleaved, each ``--repeat`` times (round i starts with the
i-th kind, so that no kind always runs right after another: the disk's speed moves with what ran before):

- by hand: one process hashing the file with zplan's own ``hash_file`` (xxh3-128, 4 MiB reads),
  then reading it once more as the step does: the work any tool must do at least;
- zplan, first sight: ``apply`` with state, artifacts and the stat cache removed (the plan hashes
  the input as it copies it into the store, or a clone of it where the file system has reflinks, or,
  when it is in memory already, the file itself; the snapshot is that copy, the step reads it);
- zplan, stat cache kept: the same with the stat cache of the previous run left in place.

With ``--before DIR`` (an older zplan tree, first on PYTHONPATH) the zplan rows run for both
versions. The page cache is warm (the file fits in memory); each zplan run starts after
``os.sync()``, so none pays for the writeback of the 2 GiB the previous one wrote.

``--cold`` evicts the input's pages before every timed run (``posix_fadvise(DONTNEED)`` of a
synced file: no root needed), so each run reads it from the disk first, as a first run after
the data arrived usually does. ``--root`` puts the project on another file system (one with
reflinks, say; a loop device should use ``--direct-io=on`` so its image's own page cache does
not serve the "cold" reads).

``--read-mbps N`` (root, cgroup v1's blkio controller) caps reads from the disk under ``--root`` at N MB/s for
this benchmark and every process it starts: a disk of one steady speed. A virtual machine's disk may serve the same
evicted file in 0.7 s one time and 3.3 s the next, which no ratio survives; the cap makes the disk the slower of the
two, every time (pick one below the disk's worst speed).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
from pathlib import Path

from measure import Run, expect, run
from report import load_average
from run import WORK, zplan_exe

# The step reads into a page-aligned buffer (an anonymous mapping), as zplan's hash_file does: on this
# machine the kernel copies cached pages into a bytearray 5x slower (malloc puts it 16 bytes past a page
# boundary), and whether a bytearray is so placed depends on what the process freed before (glibc's
# moving mmap threshold), so the by-hand reader and the worker would not do the same work.
STEP = '''import mmap
from pathlib import Path


def read_all(f: Path) -> int:
    total = 0
    with open(f, "rb", buffering=0) as fh, mmap.mmap(-1, 4 * 1024 * 1024) as buf:
        while n := fh.readinto(buf):
            total += n
    return total
'''

HCL = '''stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "big" {
  step "read" {
    source = "steps.py:read_all"
    inputs = { f = "data/big.bin" }
  }
}
'''

BY_HAND = f'''import sys
sys.path.insert(0, ".")
from pathlib import Path
from zplan.hashing import hash_file
from steps import read_all
hash_file("data/big.bin")
read_all(Path("data/big.bin"))
'''


def make(root: Path, gib: float, reference: bool = False) -> Path:
    size = int(gib * 1024**3)
    big = root / "data" / "big.bin"
    if not big.exists() or big.stat().st_size != size:
        import numpy as np

        big.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(20251130)
        with open(big, "wb") as f:
            left = size
            while left:
                n = min(left, 64 * 1024 * 1024)
                f.write(rng.bytes(n))
                left -= n
        os.sync()
    (root / "steps.py").write_text(STEP)
    hcl = HCL.replace('f = "data/big.bin"', 'f = { path = "data/big.bin", snapshot = "reference" }') if reference else HCL
    (root / "main.zp.hcl").write_text(hcl)
    return root


def evict(path: Path) -> None:
    """Drop ``path``'s pages from the page cache, so its next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # only clean pages can be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def throttle_reads(root: Path, mbps: float) -> str:
    """Cap this process's (and its children's) reads from ``root``'s disk at ``mbps`` MB/s; the cgroup's path."""
    st = os.stat(root)
    group = Path("/sys/fs/cgroup/blkio/zplan-bench")
    group.mkdir(exist_ok=True)
    (group / "blkio.throttle.read_bps_device").write_text(f"{os.major(st.st_dev)}:{os.minor(st.st_dev)} {int(mbps * 1e6)}\n")
    (group / "tasks").write_text(f"{os.getpid()}\n")
    return str(group)


def forget(root: Path, keep_stat_cache: bool) -> None:
    state = root / ".zplan"
    for child in state.iterdir() if state.exists() else []:
        if child.name == "cache" and keep_stat_cache:
            continue
        # Deleted now, not moved aside: a run here is a handful of files (the inodes bench/aside.py
        # spares the file system) but GiBs of them, which kept for the whole benchmark filled the disk.
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def span(runs: list[Run], key: str) -> str:
    xs = [getattr(r, key) for r in runs]
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gib", type=float, default=2.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--before", type=Path, help="an older zplan source tree")
    p.add_argument("--root", type=Path, default=WORK / "bigdata", help="where the project is made")
    p.add_argument("--cold", action="store_true", help="read the input from the disk in every run")
    p.add_argument("--first-sight-only", action="store_true", help="leave out the runs with the stat cache kept")
    p.add_argument("--reference", action="store_true", help='the step reads the input in place (snapshot = "reference")')
    p.add_argument("--read-mbps", type=float, help="cap reads from the disk at this many MB/s (root; cgroup v1 blkio)")
    args = p.parse_args(argv)
    root = make(args.root, args.gib, args.reference)
    if args.read_mbps:
        print(f"reads from {root}'s disk capped at {args.read_mbps:g} MB/s ({throttle_reads(root, args.read_mbps)})", flush=True)
    big = root / "data" / "big.bin"
    cold = (lambda: evict(big)) if args.cold else (lambda: None)
    zp = zplan_exe()
    python = str(Path(zp).with_name("python"))
    versions = {"this tree": None, **({"before": str(args.before.resolve())} if args.before else {})}
    apply = ["-m", "zplan.cli", "apply", "-auto-approve"]  # as the `zplan` command runs it, in either tree
    rows: dict[str, list[Run]] = {"by hand: hash_file + the step's read": []}

    def by_hand() -> None:
        cold()
        rows["by hand: hash_file + the step's read"].append(expect(run([python, "-c", BY_HAND], root), (0,), "by hand"))

    def zplan_run(name: str, path: str | None, keep: bool) -> None:
        env = dict(os.environ, **({"PYTHONPATH": path} if path else {}))
        if keep:  # the stat cache of a run of this same version
            forget(root, False)
            expect(run([python, *apply], root, env), (0,), "apply")
        forget(root, keep)
        os.sync()  # the previous run's writes flushed now: no run pays another's writeback
        cold()
        label = f"zplan ({name}), {'stat cache kept' if keep else 'first sight (no stat cache)'}"
        rows.setdefault(label, []).append(expect(run([python, *apply], root, env), (0,), label, "Apply complete"))

    kinds = [by_hand] + [functools.partial(zplan_run, name, path, keep) for name, path in versions.items()
                         for keep in ((False,) if args.first_sight_only else (False, True))]
    run([python, "-c", BY_HAND], root)  # the page cache warm before the first timed run
    print(f"load average before: {load_average()}", flush=True)
    for i in range(args.repeat):
        for kind in kinds[i % len(kinds):] + kinds[: i % len(kinds)]:  # each round starts with the next kind: no kind always follows another
            kind()
        print(f"round {i + 1} done", flush=True)
    print(f"load average after: {load_average()}")
    print(f"\n{args.gib:g} GiB input{', read from the disk' if args.cold else ''} | wall s | CPU s | peak RSS MB | wall s, round by round\n|---|---|---|---|---|")
    for label, runs in rows.items():
        each = " ".join(f"{r.wall:.2f}" for r in runs)
        print(f"| {label} | {span(runs, 'wall')} | {span(runs, 'cpu')} | {max(r.rss_mb for r in runs):.0f} | {each} |")
    by_hand = next(iter(rows.values()))
    for label, runs in list(rows.items())[1:]:  # each round's ratio: the disk's speed moves between rounds
        ratios = [r.wall / h.wall for r, h in zip(runs, by_hand)]
        print(f"{label} / by hand, round by round: {' '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
