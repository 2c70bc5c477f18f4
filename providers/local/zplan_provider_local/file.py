"""``local_file``: a text file with given content, written atomically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

from zplan.fsutil import atomic_write_bytes
from zplan.provider import Attribute, ProviderError, ResourceSchema

from .base import LocalResource, current_umask, format_mode, known, mode_problem, observed_mode, parse_mode, path_problem

CONTENT_KEYS = ("content", "sensitive_content")


class LocalFile(LocalResource):
    schema = ResourceSchema(
        "local_file",
        {
            "path": Attribute("string", required=True, force_new=True, description="relative to the project folder unless absolute"),
            "content": Attribute("string", optional=True, description="set this or sensitive_content"),
            "sensitive_content": Attribute("string", optional=True, sensitive=True, description="content never shown in plans"),
            "mode": Attribute("string", optional=True, computed=True, description='octal permissions such as "0600"'),
            "id": Attribute("string", computed=True, description="absolute path"),
            "sha256": Attribute("string", computed=True),
        },
        description="A text file on this machine.",
    )

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        errors = [p for p in [path_problem(inputs.get("path"))] if p]
        given = [k for k in CONTENT_KEYS if inputs.get(k) is not None]
        if len(given) != 1:
            errors.append("set exactly one of content and sensitive_content")
        for key in given:
            if known(inputs[key]) and not isinstance(inputs[key], str):
                errors.append(f"{key} must be a string")
        if problem := mode_problem(inputs.get("mode")):
            errors.append(problem)
        return errors

    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        path = self.resolve(s["path"])
        if path.is_dir():
            raise ProviderError(f"{path} is a directory")
        # Like Terraform's local_file, an existing file is overwritten.
        return {**s, **self._write(path, s), "id": str(path)}

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        path = self.located(attrs)
        if not path.is_file():
            return None
        out = {**attrs, "mode": observed_mode(attrs.get("mode"), path.stat().st_mode), "id": str(path)}
        digest = _sha256(path)
        if digest != attrs.get("sha256"):
            # Edited by hand: report what is there so the diff shows a content change.
            key = "sensitive_content" if attrs.get("sensitive_content") is not None else "content"
            out.update({key: path.read_bytes().decode("utf-8", "replace"), "sha256": digest})
        return out

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        path = self.located(before)
        # no mode configured: the file keeps the one it has, which the plan showed as unchanged
        kept = path.stat().st_mode & 0o777 if path.is_file() else None
        return {**before, **s, **self._write(path, s, kept), "id": str(path)}

    def delete(self, attrs: Mapping[str, Any]) -> None:
        self.located(attrs).unlink(missing_ok=True)

    def import_(self, id_: str) -> dict[str, Any]:
        path = self.resolve(id_)
        if not path.is_file():
            raise ProviderError(f"no file at {path}")
        try:
            content = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ProviderError(f"{path} is not UTF-8 text; local_file manages text files only") from None
        return {
            "path": id_,
            "content": content,
            "sensitive_content": None,
            "mode": format_mode(path.stat().st_mode),
            "id": str(path),
            "sha256": _sha256(path),
        }

    def _write(self, path: Path, s: Mapping[str, Any], kept_mode: int | None = None) -> dict[str, Any]:
        text = s["sensitive_content"] if s["sensitive_content"] is not None else s["content"]
        if not isinstance(text, str):
            raise ProviderError("set exactly one of content and sensitive_content")
        data = text.encode()
        atomic_write_bytes(path, data)
        # The temporary file was made 0600; give the usual umask-filtered mode unless one is set (or kept),
        # and keep sensitive content its owner's alone, as Terraform's local_sensitive_file does.
        mode = parse_mode(s["mode"])
        if mode is None:
            default = 0o600 if s["sensitive_content"] is not None else 0o666 & ~current_umask()
            mode = kept_mode if kept_mode is not None else default
        os.chmod(path, mode)
        return {"mode": observed_mode(s["mode"], path.stat().st_mode), "sha256": hashlib.sha256(data).hexdigest()}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
