"""`zplan init`: the .zplan folder, and a small working example in an empty project."""

from __future__ import annotations

from pathlib import Path

from zplan.config.loader import config_files

EXAMPLE_HCL = '''# A first zplan pipeline. `zplan plan` shows what will run; `zplan apply` runs it.

variable "rows" {
  default     = 1000
  description = "How many rows to generate"
}

pipeline "example" {
  step "generate" {
    source = "steps.py:generate"
    params = { rows = var.rows, seed = 42 }
  }

  step "summarise" {
    source = "steps.py:summarise"
    inputs = { numbers = step.generate.outputs.output }
  }
}

output "mean" {
  value = step.summarise.outputs.output
}
'''

EXAMPLE_STEPS = '''"""Steps are plain Python functions: params and inputs arrive as keyword arguments."""

import random


def generate(rows: int, seed: int) -> list:
    rng = random.Random(seed)
    return [rng.random() for _ in range(rows)]


def summarise(numbers: list) -> float:
    return round(sum(numbers) / len(numbers), 6)
'''


def init(root: Path) -> list[str]:
    created = []
    state_dir = root / ".zplan"
    if not state_dir.exists():
        state_dir.mkdir(parents=True)
        (state_dir / ".gitignore").write_text("*\n")
        created.append(".zplan/")
    if not config_files(root) and not (root / "steps.py").exists():
        (root / "main.zp.hcl").write_text(EXAMPLE_HCL)
        (root / "steps.py").write_text(EXAMPLE_STEPS)
        created += ["main.zp.hcl", "steps.py"]
    return created
