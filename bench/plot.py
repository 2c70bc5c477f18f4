"""Draw bench/scale.py's figures as a PNG, in pure Python (zlib + struct, no plotting library).

    .venv/bin/python bench/plot.py [bench/scale.json] [--out bench/scale.png]

Two panels against the number of steps (linear axes from 0): the no-change plan's time (made: CPU
median with its min-max bar, wall median as hollow squares; the kept plan shown again: wall) and
peak RSS (no-change plan made, cold apply, kept plan). Text is drawn with a 3x5 pixel font, scaled up.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import struct
import sys
import zlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# 3x5 glyphs: five rows of three pixels ("#" = ink) per character
_ROWS = {
    "0": "###/#.#/#.#/#.#/###", "1": ".#./##./.#./.#./###", "2": "###/..#/###/#../###", "3": "###/..#/###/..#/###",
    "4": "#.#/#.#/###/..#/..#", "5": "###/#../###/..#/###", "6": "###/#../###/#.#/###", "7": "###/..#/..#/..#/..#",
    "8": "###/#.#/###/#.#/###", "9": "###/#.#/###/..#/###", ".": ".../.../.../.../.#.", ",": ".../.../.../.#./#..",
    "-": ".../.../###/.../...", "(": ".#./#../#../#../.#.", ")": ".#./..#/..#/..#/.#.", "/": "..#/..#/.#./#../#..",
    " ": ".../.../.../.../...", ":": ".../.#./.../.#./...", "=": ".../###/.../###/...", "%": "#.#/..#/.#./#../#.#",
    "A": ".#./#.#/###/#.#/#.#", "B": "##./#.#/##./#.#/##.", "C": "###/#../#../#../###", "D": "##./#.#/#.#/#.#/##.",
    "E": "###/#../###/#../###", "F": "###/#../###/#../#..", "G": "###/#../#.#/#.#/###", "H": "#.#/#.#/###/#.#/#.#",
    "I": "###/.#./.#./.#./###", "K": "#.#/#.#/##./#.#/#.#", "L": "#../#../#../#../###", "M": "#.#/###/###/#.#/#.#",
    "N": "##./#.#/#.#/#.#/#.#", "O": "###/#.#/#.#/#.#/###", "P": "###/#.#/###/#../#..", "R": "##./#.#/##./#.#/#.#",
    "S": "###/#../###/..#/###", "T": "###/.#./.#./.#./.#.", "U": "#.#/#.#/#.#/#.#/###", "W": "#.#/#.#/###/###/#.#",
    "X": "#.#/#.#/.#./#.#/#.#", "Y": "#.#/#.#/.#./.#./.#.",
}
_GLYPHS = {ch: rows.replace("/", "") for ch, rows in _ROWS.items()}

INK, GRID, BLUE, ORANGE, GREEN, WHITE = (30, 30, 30), (225, 225, 225), (31, 119, 180), (230, 120, 20), (44, 160, 44), (255, 255, 255)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.px = [bytearray(WHITE * width) for _ in range(height)]

    def dot(self, x: int, y: int, color: tuple[int, int, int]) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            self.px[y][3 * x:3 * x + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color, fill: bool = True) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            for x in range(min(x0, x1), max(x0, x1) + 1):
                if fill or y in (y0, y1) or x in (x0, x1):
                    self.dot(x, y, color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color, width: int = 1) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            x, y = round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps)
            self.rect(x - width // 2, y - width // 2, x + (width - 1) // 2, y + (width - 1) // 2, color)

    def text(self, x: int, y: int, s: str, scale: int = 2, color=INK, anchor: str = "left") -> None:
        width = len(s) * 4 * scale
        x -= {"left": 0, "center": width // 2, "right": width}[anchor]
        for i, ch in enumerate(s.upper()):
            glyph = _GLYPHS.get(ch, _GLYPHS[" "])
            for k, pixel in enumerate(glyph):
                if pixel == "#":
                    gx, gy = x + i * 4 * scale + (k % 3) * scale, y + (k // 3) * scale
                    self.rect(gx, gy, gx + scale - 1, gy + scale - 1, color)

    def png(self) -> bytes:
        raw = b"".join(b"\0" + bytes(row) for row in self.px)

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _nice_max(v: float) -> float:
    exp = 10 ** math.floor(math.log10(v))
    return next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= v)


def panel(c: Canvas, box: tuple[int, int, int, int], title: str, steps: list[int], series: list[tuple], unit: str) -> None:
    """series: (label, color, [(low, mid, high) per size], hollow)."""
    x0, y0, x1, y1 = box
    top = _nice_max(max(v[2] for _, _, vals, _ in series for v in vals) * 1.05)
    right = _nice_max(max(steps) * 1.05)  # a linear axis from 0: linear growth shows as a straight line
    X = lambda s: round(x0 + s / right * (x1 - x0))  # noqa: E731
    Y = lambda v: round(y1 - v / top * (y1 - y0))  # noqa: E731
    for i in range(5):
        v = top * i / 4
        c.line(x0, Y(v), x1, Y(v), GRID)
        c.text(x0 - 8, Y(v) - 5, f"{v:g}", anchor="right")
    c.rect(x0, y0, x1, y1, INK, fill=False)
    for s in steps:
        c.text(X(s), y1 + 10, f"{s:,}", anchor="center")
    c.text((x0 + x1) // 2, y1 + 34, "STEPS", anchor="center")
    c.text((x0 + x1) // 2, y0 - 46, title, scale=3, anchor="center")
    c.text(x0, y0 - 20, unit)
    for k, (label, color, vals, hollow) in enumerate(series):
        pts = [(X(s), Y(mid)) for s, (_, mid, _) in zip(steps, vals)]
        for (ax, ay), (bx, by) in zip(pts, pts[1:]):
            c.line(ax, ay, bx, by, color, 1 if hollow else 3)
        for (x, _), (low, mid, high) in zip(pts, vals):
            c.line(x, Y(low), x, Y(high), color)
            c.rect(x - 5, Y(mid) - 5, x + 5, Y(mid) + 5, color, fill=not hollow)
        c.rect(x0 + 12, y0 + 14 + 22 * k, x0 + 24, y0 + 26 + 22 * k, color, fill=not hollow)
        c.text(x0 + 32, y0 + 16 + 22 * k, label, color=color)


def draw(rows: list[dict]) -> bytes:
    rows = sorted(rows, key=lambda r: r["steps"])
    steps = [r["steps"] for r in rows]
    tri = lambda xs: (min(xs), statistics.median(xs), max(xs))  # noqa: E731
    c = Canvas(1200, 520)
    kept = [("KEPT PLAN SHOWN AGAIN (WALL)", GREEN, [tri(r["kept"]["wall"]) for r in rows], False)] if all("kept" in r for r in rows) else []
    panel(c, (110, 90, 560, 440), "NO-CHANGE PLAN", steps, [
        ("MADE: CPU (MIN-MAX)", BLUE, [tri(r["plan"]["cpu"]) for r in rows], False),
        ("MADE: WALL", ORANGE, [tri(r["plan"]["wall"]) for r in rows], True),
        *kept,
    ], "SECONDS")
    panel(c, (720, 90, 1170, 440), "PEAK RSS", steps, [
        ("PLAN MADE", BLUE, [(r["plan"]["rss_mb"],) * 3 for r in rows], False),
        ("COLD APPLY", ORANGE, [(r["cold"]["rss_mb"],) * 3 for r in rows], True),
        *([("KEPT PLAN SHOWN AGAIN", GREEN, [(r["kept"]["rss_mb"],) * 3 for r in rows], False)] if kept else []),
    ], "MB")
    return c.png()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", type=Path, default=BENCH / "scale.json")
    p.add_argument("--out", type=Path, default=BENCH / "scale.png")
    args = p.parse_args(argv)
    args.out.write_bytes(draw(json.loads(args.data.read_text())))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
