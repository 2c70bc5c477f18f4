"""A new SQLite metadata store starts as a copy of an empty one, made once per machine.

ML Metadata makes its schema (some twenty tables and their indexes, one write transaction each)
and zplan registers its types as a new store opens: ~25 ms, and ~120 ms where syncs are dear (a
disk behind a VM), at the first apply of every project. The same empty store, copied, costs a
fraction of a millisecond and one sync. The copy is kept beside Python's bytecode cache
(``zplan/metadata/__pycache__``), named by ML Metadata's version and zplan's types, and made by
the first store this zplan creates itself; where that folder cannot be written, every store is
made as before. The types are registered again as the store opens (``schema.register``), which
finds them and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from zplan.fsutil import sync_folder


def _template(version: str) -> Path:
    from zplan.metadata import schema

    types = repr([(name, getattr(schema, name)) for name in sorted(vars(schema)) if name.startswith("_") and name.endswith("_PROPS")])
    digest = hashlib.sha256(f"{version}\n{types}".encode()).hexdigest()[:16]
    return Path(__file__).parent / "__pycache__" / f"mlmd-empty.{version}.{digest}.sqlite"


def mlmd_version() -> str | None:
    """The installed ML Metadata's version, read from its version file: importing it would import all of
    ML Metadata (its package imports everything). None when it is not installed."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("ml_metadata")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text()
    except OSError:
        return None
    found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    return found.group(1) if found else None


def place(path: Path, version: str) -> bool:
    """Put an empty store at ``path`` (which is not there) from the kept copy; False when there is none,
    or it could not be placed (the store is then made as before, which reports what is wrong). Never
    replaces a file: a store another process made meanwhile is left as it is."""
    template = _template(version)
    if not template.is_file():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as out, open(template, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())  # whole on the disk before it has the store's name
        os.link(tmp, path)  # (fails if the store is there: never replaced)
        sync_folder(path.parent)
        return True
    except FileExistsError:
        return True
    except OSError:  # a full disk, a file system without hard links
        return False
    finally:
        os.unlink(tmp)


def keep(path: Path, version: str) -> None:
    """Keep the store just made at ``path`` (schema and types, nothing else yet) as the copy to start
    from. Best effort: a folder that cannot be written keeps nothing."""
    template = _template(version)
    if template.is_file():
        return
    try:
        template.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".mlmd-empty.", suffix=".tmp", dir=template.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())  # every new store is copied from it: whole, or not there
            if _holds_records(Path(tmp)):  # another apply wrote its run meanwhile: not an empty store
                raise OSError("not empty")
            os.replace(tmp, template)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _holds_records(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() for table in ("Context", "Execution", "Artifact"))
    finally:
        conn.close()
