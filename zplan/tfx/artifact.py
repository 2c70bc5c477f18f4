"""A TFX artifact as zplan stores it, readable without importing TFX.

An artifact folder in the store holds the artifact's own files under ``data/``
(what TFX calls its uri) and ``tfx_artifact.json``: the ML Metadata artifact
type and artifact (properties such as ``split_names``, custom properties such
as ``blessed``) exactly as TFX wrote them, so a downstream TFX component gets the
artifact back as TFX made it, and ML Metadata records it with TFX's own type.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zplan.artifacts.builtin_materializers import Materializer

DATA = "data"
DESCRIPTION = "tfx_artifact.json"


@dataclass(frozen=True)
class TfxArtifact:
    """One TFX artifact: its TFX type name, its files and its ML Metadata protos (as JSON dicts)."""

    type_name: str  # "Examples", "Schema", "ModelBlessing", ...
    path: Path  # the artifact's files (TFX's artifact.uri)
    mlmd_type: dict = field(default_factory=dict)  # ml_metadata ArtifactType, json_format.MessageToDict form
    mlmd_artifact: dict = field(default_factory=dict)  # ml_metadata Artifact without id and uri

    @property
    def properties(self) -> dict[str, Any]:
        return _values(self.mlmd_artifact.get("properties", {}))

    @property
    def custom_properties(self) -> dict[str, Any]:
        return _values(self.mlmd_artifact.get("customProperties", {}))

    @property
    def split_names(self) -> list[str]:
        """The splits of an Examples or statistics artifact (``["train", "eval"]``)."""
        return json.loads(self.properties.get("split_names") or "[]")


def _values(props: dict[str, dict]) -> dict[str, Any]:
    """MLMD ``Value`` dicts ({"intValue": "1"}) -> plain Python values."""
    out = {}
    for name, value in props.items():
        if "intValue" in value:
            out[name] = int(value["intValue"])
        elif "doubleValue" in value:
            out[name] = float(value["doubleValue"])
        elif "stringValue" in value:
            out[name] = value["stringValue"]
        elif "boolValue" in value:
            out[name] = bool(value["boolValue"])
        else:
            out[name] = next(iter(value.values()), None)
    return out


class TfxArtifactMaterializer(Materializer):
    """Stores a ``TfxArtifact`` (registered through the ``zplan.materializers`` entry points)."""

    name = "tfx.artifact"
    version = "1"

    def can_save(self, value: Any) -> bool:
        return isinstance(value, TfxArtifact)

    def save(self, value: TfxArtifact, folder: Path) -> dict:
        shutil.copytree(value.path, folder / DATA, symlinks=False)
        description = {"type_name": value.type_name, "type": value.mlmd_type, "artifact": value.mlmd_artifact}
        (folder / DESCRIPTION).write_text(json.dumps(description, sort_keys=True, indent=1) + "\n")
        return {"tfx_type": value.type_name, "mlmd_type": value.mlmd_type, "mlmd_artifact": value.mlmd_artifact}

    def load(self, folder: Path) -> TfxArtifact:
        description = json.loads((folder / DESCRIPTION).read_text())
        return TfxArtifact(description["type_name"], folder / DATA, description["type"], description["artifact"])
