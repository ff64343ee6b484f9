"""Server-rendered SVG: the score gauge and the history chart. Numbers only, no user text."""

from __future__ import annotations

import math
from datetime import datetime

from django.utils.safestring import SafeString, mark_safe

from scoring.model import PARAMS

LOW, HIGH = PARAMS.score_min, PARAMS.score_max
# (highest score of the band, CSS colour) per band, lowest first: the model's bands, coloured as
# in static/css/credo.css.
_COLOURS = ("#b91c1c", "#d97706", "#ca8a04", "#65a30d", "#15803d")
BAND_COLOURS = tuple(zip([*(lowest - 1 for lowest, _ in PARAMS.bands), HIGH], _COLOURS, strict=True))


def _angle(score: float) -> float:
    """Radians along the half circle: 350 at the left (π), 950 at the right (0)."""
    return math.pi * (1 - (min(max(score, LOW), HIGH) - LOW) / (HIGH - LOW))


def _point(cx: float, cy: float, r: float, angle: float) -> tuple[float, float]:
    return cx + r * math.cos(angle), cy - r * math.sin(angle)


def gauge_svg(score: int) -> SafeString:
    """A half-circle gauge 350–950 with coloured bands and a needle at ``score``. The digits are
    the page's to print (under the gauge, out of the needle's sweep); the SVG names the score for
    screen readers."""
    cx, cy, r = 100.0, 100.0, 80.0
    parts = []
    start = LOW
    for end, colour in BAND_COLOURS:
        x1, y1 = _point(cx, cy, r, _angle(start))
        x2, y2 = _point(cx, cy, r, _angle(end + 1 if end < HIGH else HIGH))
        parts.append(f'<path d="M{x1:.1f},{y1:.1f} A{r},{r} 0 0,1 {x2:.1f},{y2:.1f}" '
                     f'stroke="{colour}" stroke-width="16" fill="none"/>')
        start = end + 1
    nx, ny = _point(cx, cy, r - 22, _angle(score))
    parts.append(f'<line x1="{cx}" y1="{cy}" x2="{nx:.1f}" y2="{ny:.1f}" stroke="#1f2937" stroke-width="4" '
                 'stroke-linecap="round"/>')
    parts.append(f'<circle cx="{cx}" cy="{cy}" r="6" fill="#1f2937"/>')
    parts.append(f'<text x="20" y="120" font-size="13" fill="#4b5563">{LOW}</text>'
                 f'<text x="180" y="120" font-size="13" fill="#4b5563" text-anchor="end">{HIGH}</text>')
    return mark_safe(  # noqa: S308 - built from numbers only
        f'<svg class="gauge" viewBox="0 0 200 125" role="img" aria-label="Score {int(score)} of {HIGH}">'
        + "".join(parts) + "</svg>"
    )


#: The history chart's size in SVG units: about a phone's card width, so that its 12-unit labels
#: show at about 11 px at 375 px (the SVG scales to its box).
HISTORY_WIDTH, HISTORY_HEIGHT = 340, 170
_LABEL = 'font-size="12" fill="#4b5563"'


def history_svg(points: list[tuple[datetime, int]], width: int = HISTORY_WIDTH,
                height: int = HISTORY_HEIGHT) -> SafeString:
    """A step line of the score after each change, with the band thresholds as guides."""
    if not points:
        return mark_safe('<p class="hint">No history yet.</p>')
    pad_l, pad_r, pad_t, pad_b = 32, 4, 8, 20
    t0 = points[0][0].timestamp()
    t1 = max(points[-1][0].timestamp(), t0 + 1)
    scores = [s for _, s in points]
    lo = max(LOW, min(scores) - 20)
    hi = min(HIGH, max(scores) + 20)
    if hi - lo < 40:
        lo, hi = max(LOW, lo - 20), min(HIGH, hi + 20)

    def x(t: float) -> float:
        return pad_l + (t - t0) / (t1 - t0) * (width - pad_l - pad_r)

    def y(s: float) -> float:
        return pad_t + (hi - s) / (hi - lo) * (height - pad_t - pad_b)

    guides = []
    for threshold in (bound + 1 for bound, _ in BAND_COLOURS[:-1]):
        if lo < threshold < hi:
            guides.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
                          f'stroke="#e5e7eb" stroke-dasharray="4 3"/><text x="{pad_l - 4}" y="{y(threshold) + 4:.1f}" '
                          f'{_LABEL} text-anchor="end">{threshold}</text>')
    path = []
    prev_y = None
    for when, score in points:
        px, py = x(when.timestamp()), y(score)
        if prev_y is None:
            path.append(f"M{px:.1f},{py:.1f}")
        else:
            path.append(f"H{px:.1f}V{py:.1f}")
        prev_y = py
    path.append(f"H{width - pad_r}")
    last = scores[-1]
    return mark_safe(  # noqa: S308 - built from numbers and dates only
        f'<svg class="history" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Score history: {len(points)} changes, now {last}">'
        + "".join(guides)
        + f'<path d="{" ".join(path)}" fill="none" stroke="#0f766e" stroke-width="2.5"/>'
        + f'<text x="{pad_l}" y="{height - 4}" {_LABEL}>{points[0][0]:%d %b %Y}</text>'
        + f'<text x="{width - pad_r}" y="{height - 4}" {_LABEL} text-anchor="end">'
          f'{points[-1][0]:%d %b %Y}</text></svg>'
    )

