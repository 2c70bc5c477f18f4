"""zplan's own HCL reader agrees with python-hcl2 (the reference parser) on every example.

zplan parses with a hand-written reader because python-hcl2's Lark parser is about
ten times slower on large files; this keeps the two honest on real configurations.
"""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest

from zplan.config.hcl import Block, parse_file

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(ROOT.glob("examples/**/*.zp.hcl"))


def shape_of_ours(block: Block) -> dict:
    out: dict = {name: "attr" for name in block.attributes}
    for nested in block.blocks:
        out.setdefault(nested.type, []).append({tuple(nested.labels): shape_of_ours(nested)})
    return out


def shape_of_reference(node: dict) -> dict:
    out: dict = {}
    for key, value in node.items():
        if key.startswith("__"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and v.get("__is_block__") or _labelled(v) for v in value):
            out[key] = [_labelled_shape(v) for v in value]
        else:
            out[key] = "attr"
    return out


def _labelled(v) -> bool:
    return isinstance(v, dict) and len(v) == 1 and isinstance(next(iter(v.values())), dict)


def _labelled_shape(v: dict) -> dict:
    labels: list[str] = []
    while not v.get("__is_block__"):
        (label, inner), = [(k, x) for k, x in v.items() if not k.startswith("__")]
        labels.append(label.strip('"'))
        v = inner
    return {tuple(labels): shape_of_reference(v)}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_blocks_labels_and_attributes(path: Path) -> None:
    reference = hcl2.loads(path.read_text(), serialization_options=hcl2.SerializationOptions(with_comments=False))
    assert shape_of_ours(parse_file(path)) == shape_of_reference(reference)
