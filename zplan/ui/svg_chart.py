"""A metric across runs as a small SVG line chart: one point per run that produced a number."""

from __future__ import annotations

from html import escape

W, H, LEFT, RIGHT, TOP, BOTTOM = 640, 240, 60, 20, 16, 36


def numeric(value) -> float | None:
    """The number a chart can plot, or None (text, lists, booleans and missing values are not plotted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def render(points: list[tuple[int, float]], title: str) -> str:
    """``points`` are (run number, value), oldest first."""
    if not points:
        return '<p class="muted">No run produced a number for this output yet.</p>'
    values = [v for _, v in points]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 0.5 if low else -0.5, high + 0.5 if high else 0.5
    span_x = max(1, len(points) - 1)

    def x(i: int) -> float:
        return LEFT + (W - LEFT - RIGHT) * (i / span_x if len(points) > 1 else 0.5)

    def y(v: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - (v - low) / (high - low))

    coords = [(x(i), y(v)) for i, (_, v) in enumerate(points)]
    line = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#999"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#999"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 4}" font-size="11" text-anchor="end">{high:.4g}</text>',
             f'<text x="{LEFT - 6}" y="{H - BOTTOM}" font-size="11" text-anchor="end">{low:.4g}</text>',
             f'<polyline points="{line}" fill="none" stroke="#3b68b0" stroke-width="2"/>']
    for (run, value), (cx, cy) in zip(points, coords):
        parts.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="#3b68b0">'
                     f'<title>run {run}: {value:.6g}</title></circle>')
    step = max(1, len(points) // 10)
    for i in range(0, len(points), step):
        parts.append(f'<text x="{coords[i][0]:.1f}" y="{H - BOTTOM + 16}" font-size="11" text-anchor="middle">'
                     f'{points[i][0]}</text>')
    parts.append(f'<text x="{(W + LEFT) / 2:.0f}" y="{H - 4}" font-size="11" text-anchor="middle">run</text></svg>')
    return "\n".join(parts)
