"""The no-change plan, remembered: a plan that found nothing to do is shown again without being
made again, for as long as nothing it read has changed.

A plan reads files only (``zplan.plan.read_trace``): the configuration, the state, zplan's caches,
the step code, the data inputs and the artifact store. ``zplan plan`` records, while it plans,
what each of those looked like; when the plan has nothing to do, it keeps the JSON plan with that
record in ``.zplan/cache/plans/`` (a file per set of flags; `zplan apply` shares the JSON plan's, and
says "No changes" from it under the state lock). The next ``zplan plan`` given the same flags in the same
environment (variables, working folder, interpreter, every loaded module's file) looks at every
recorded path again (every data input and code file is still stat'ed, every folder listed) and,
when each is as recorded, shows the kept plan. Anything else, and anything the record could not
follow (a write, a file changed within a clock tick, the network, a subprocess: see
``read_trace``), plans as usual. ``ZPLAN_PLAN_MEMO=off`` never keeps one; ``=verify`` also makes
the plan on every reuse and fails loudly if the two differ (the test suite runs so).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

from zplan.hashing import changed_just_now
from zplan.plan import read_trace

VERSION = 1
FOLDER = "plans"  # in .zplan/cache: a file per set of flags (`plan`, `plan -format json` and `apply` alternate)
KEPT = 4  # memos kept, the latest written
STATE_DIR = ".zplan"  # (zplan.project.STATE_DIR: not imported, a reused plan needs nothing of the project)
MODE_ENV = "ZPLAN_PLAN_MEMO"
_VOLATILE = frozenset({"_", "OLDPWD", "SHLVL", MODE_ENV})  # set by the shell (the command run, the last folder, nesting); the mode is not the plan's


def mode() -> str:
    return os.environ.get(MODE_ENV, "on")


def for_plan(root: Path, var: list, stack: str | None, selection: tuple, for_text: bool) -> "Memo | None":
    """The memo of ``root`` for a plan given these flags (``selection``: -target, -exclude, -replace, -destroy,
    -refresh, -no-checkout), or None (``off``). `zplan apply` shares the JSON plan's (``for_text`` False)."""
    return None if mode() == "off" else Memo(root, (str(root), repr((list(var), stack, tuple(map(_plain, selection)), for_text))))


def _plain(flag: Any) -> Any:
    return list(flag) if isinstance(flag, (list, tuple)) else flag


def recording(memo: "Memo | None"):
    """The trace ``memo`` records a plan with (nothing, without one)."""
    return memo.recording() if memo is not None else nullcontext()


class Memo:
    """The memo of one project for one set of plan flags (``key``): a file of its own, the latest few kept."""

    def __init__(self, root: Path, parts: tuple) -> None:
        self.key = _key(parts)
        self.path = root / STATE_DIR / "cache" / FOLDER / f"{self.key.hex()[:16]}.memo"
        self.trace: read_trace.Trace | None = None

    def lookup(self) -> dict | None:
        """The kept plan, when everything it read is as it was; else None."""
        try:
            kept = marshal.loads(self.path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if not isinstance(kept, dict) or kept.get("v") != VERSION or kept.get("key") != self.key:
            return None
        if not read_trace.unchanged(kept["seen"]):
            return None
        doc = kept["doc"]
        doc["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())  # (as the plan's, without datetime)
        return doc

    def recording(self) -> read_trace.Trace:
        self.trace = read_trace.Trace()
        return self.trace

    def keep(self, doc: dict, secrets: list[str], changes: bool) -> None:
        """Keep ``doc`` with what its plan read, if all of it could be followed: a plan with nothing to do
        (``verify`` keeps every plan: each one a test makes again is then a check of what the record follows)."""
        trace = self.trace
        if trace is None or trace.tainted or (changes and mode() != "verify") or not self.path.parent.parent.is_dir():
            return
        seen = [(kind, path, found) for (kind, path), found in trace.seen.items()]
        modules = _module_files()
        if modules is None:
            return
        seen += modules
        if secrets and _names_a_secret(seen, secrets):
            return  # the record would hold a secret in clear (a path built from it, a file named by it)
        try:
            self.path.parent.mkdir(exist_ok=True)
            _replace(self.path, marshal.dumps({"v": VERSION, "key": self.key, "seen": seen, "doc": doc}))
            _prune(self.path.parent)
        except (OSError, ValueError):  # (a read-only .zplan; a value marshal cannot write)
            pass


def _prune(folder: Path) -> None:
    """Keep the ``KEPT`` latest memos (a variable given another value each time would add one each plan)."""
    memos = sorted(folder.glob("*.memo"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in memos[KEPT:]:
        old.unlink(missing_ok=True)


def _replace(path: Path, data: bytes) -> None:
    """Write the memo whole or not at all (``fsutil.atomic_write_bytes`` without its imports: a
    no-change plan imports nothing it does not need). A cache: not synced to disk."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _key(parts: tuple) -> bytes:
    """The plan's inputs outside the files it reads: flags, environment, interpreter (a digest: they may hold secrets)."""
    env = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE)
    whole = (VERSION, sys.executable, sys.version, sys.path, os.getcwd(), env, parts)
    return hashlib.blake2b(repr(whole).encode("utf-8", "surrogateescape"), digest_size=24).digest()


def _module_files() -> list[tuple[str, str, Any]] | None:
    """The stamps of every loaded module's file: a changed zplan, provider or library plans differently."""
    found = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        try:
            st = os.stat(file)
        except OSError:
            return None  # (a module whose file is gone: nothing to compare with)
        if changed_just_now(st.st_mtime_ns, st.st_ctime_ns):
            return None
        found.append(("s", file, read_trace.stamps(st)))
    return found


def _names_a_secret(seen: list[tuple[str, str, Any]], secrets: list[str]) -> bool:
    """Whether a recorded path, a name in a recorded listing or a link's target holds a secret's text."""
    texts = [path for _, path, _ in seen]
    for kind, _, found in seen:
        if kind in ("d", "e") and isinstance(found, tuple):
            texts += [entry if kind == "d" else entry[0] for entry in found]
        elif kind == "r" and isinstance(found, str):
            texts.append(found)
    every = "\0".join(texts)
    return any(s and s in every for s in secrets)


def verified(doc: dict, make: Callable[[], dict]) -> dict:
    """``ZPLAN_PLAN_MEMO=verify``: the kept plan, after checking it against the plan made again."""
    fresh = make()
    kept = {k: v for k, v in doc.items() if k != "created_at"}
    if kept != {k: v for k, v in fresh.items() if k != "created_at"}:
        differ = sorted(k for k in set(kept) | set(fresh) if k != "created_at" and kept.get(k) != fresh.get(k))
        raise AssertionError(f"the remembered plan differs from the plan made again, in {differ}: {kept.get(differ[0])!r} != {fresh.get(differ[0])!r}")
    return doc
