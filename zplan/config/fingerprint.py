"""Fingerprints of configuration files by their parsed content, not their bytes.

A comment or layout edit does not change a file's fingerprint, so it does not
make a saved plan stale; any change of meaning does.
"""

from __future__ import annotations

from pathlib import Path

from zplan.hashing import hash_value


def file_fingerprint(path: Path) -> str:
    import hcl2

    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=True)
    return hash_value(hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=options))


def fingerprints(root: Path, files: list[Path]) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): file_fingerprint(p) for p in files}
