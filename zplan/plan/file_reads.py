"""Whether the project files a step's code read without declaring them are as they were when it ran.

Its worker recorded each one's digest after the step (``zplan.apply.file_reads``): a file's
contents, a folder's names, or absence for a file the code looked for and did not find. A result
is reused only while every one of them is still the same; otherwise the step reruns, and the plan
names the file. Files are hashed through the stat cache, as data inputs are: an unchanged file
costs one ``stat``.
"""

from __future__ import annotations

import os
import stat

from zplan.hashing import StatCache, as_text, listing_digest, refused
from zplan.plan import model as m
from zplan.secrets import SENSITIVE, is_sealed

_ADVICE = "a file its code reads without declaring it: declare it in inputs to snapshot it"


def changed_reads(reads: dict[str, str | None], root: str, state_dir: str, stat_cache: StatCache) -> m.Reason | None:
    """The reason a result that read ``reads`` cannot be reused now, or None (``reads`` are sealed in state
    when a path holds a secret)."""
    hidden = is_sealed(reads)  # (its paths named only as "(sensitive)": the secret may be another one now)
    if hidden:
        from zplan.state import secrets as sealed

        reads = sealed.unseal(reads, state_dir)
    changed = [(rel, was) for rel, was in reads.items() if _digest_now(rel, root, stat_cache) != was]
    if not changed:
        return None
    rel, was = changed[0]
    name = SENSITIVE if hidden else as_text(rel)  # (a name that is not UTF-8, escaped)
    more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
    if rel.endswith("/"):
        what = f"the files in {name} changed since the step listed them"
    elif was is None:
        what = f"{name} exists now, where the step looked for it and found nothing"
    else:
        what = f"{name} changed since the step read it" if os.path.lexists(os.path.join(root, rel)) else f"{name}, which the step read, is gone"
    return m.Reason(m.FILE_READ_CHANGED, f"{what}{more} ({_ADVICE})")


def _digest_now(rel: str, root: str, stat_cache: StatCache) -> str | None:
    path = os.path.join(root, rel)
    if rel.endswith("/"):
        return listing_digest(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return f"not a file: {stat.filemode(st.st_mode)}"
    try:
        return stat_cache.file_hash(path, st)
    except OSError as exc:  # (unreadable now: as the worker found it, or not as it was)
        return refused(exc)
