"""The state file's decoded document, kept in the project's cache for the next read.

Decoding the JSON is most of reading a big state (24 MB for 20,000 steps: ~150 ms); ``marshal``
gives the same dicts back in ~60 % of that time. The copy is named by the xxh3 digest of the
state file's exact bytes, which every read computes (~1 ms for 24 MB), and by a digest of its
own bytes: the document it gives is the one those state bytes decode to, whoever wrote the file
and whenever. It is a cache: missing, damaged, made by another Python or stale, it is ignored
(and written again by the read that decodes the JSON).
"""

from __future__ import annotations

import marshal
import sys
from pathlib import Path

from zplan.fsutil import atomic_write_bytes
from zplan.hashing import hash_bytes

# what the copy's bytes depend on besides the document: this file's layout, marshal's and Python's;
# layout 2: made only from documents whose entries were checked (``zplan.state.entries``)
_KIND = f"zplan-state-decoded 2 marshal {marshal.version} python {sys.version_info[0]}.{sys.version_info[1]}".encode()


def load(path: Path, state_digest: str) -> dict | None:
    """The document kept for the state bytes whose digest is ``state_digest``, or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header, newline, payload = data.partition(b"\n")
    kind, _, digests = header.rpartition(b" digests ")
    if not newline or kind != _KIND or digests != f"{state_digest} {hash_bytes(payload)}".encode():
        return None
    try:
        doc = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return doc if type(doc) is dict else None


def save(path: Path, state_digest: str, doc: dict) -> None:
    """Keep ``doc`` (just decoded from the state bytes with that digest) for the next read;
    a cache, so a failure to write it is no error."""
    try:
        payload = marshal.dumps(doc)
        atomic_write_bytes(path, b"%s digests %s %s\n%s" % (_KIND, state_digest.encode(), hash_bytes(payload).encode(), payload),
                           durable=False)
    except (OSError, ValueError):
        pass
