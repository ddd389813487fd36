"""Drawing figures for figural reasoning items as small SVG pictures.

Each function returns SVG drawing elements for one 100 × 100 cell; ``picture`` puts cells
side by side (a series with a final "?" cell, or a single figure) into one SVG file.
"""

from __future__ import annotations

import math

CELL = 100
INK = "#1b1f23"


def polygon(sides: int, r: float = 34, turn: float = 0, fill: str = "none") -> str:
    """A regular polygon centred in the cell, its first corner at the top, turned by
    ``turn`` degrees clockwise."""
    points = []
    for k in range(sides):
        angle = math.radians(turn - 90 + 360 * k / sides)
        points.append(f"{50 + r * math.cos(angle):.1f},{50 + r * math.sin(angle):.1f}")
    return f'<polygon points="{" ".join(points)}" fill="{fill}" stroke="{INK}" stroke-width="3"/>'


def circle(r: float = 34, fill: str = "none") -> str:
    return f'<circle cx="50" cy="50" r="{r}" fill="{fill}" stroke="{INK}" stroke-width="3"/>'


def square(r: float = 30, fill: str = "none") -> str:
    side = 2 * r
    return (
        f'<rect x="{50 - r}" y="{50 - r}" width="{side}" height="{side}" fill="{fill}" '
        f'stroke="{INK}" stroke-width="3"/>'
    )


def arrow(turn: float = 0, mirrored: bool = False) -> str:
    """An arrow pointing up (turned clockwise by ``turn``) with a barb on its left, or on
    its right when ``mirrored``."""
    barb = "65,40" if mirrored else "35,40"
    return (
        f'<g transform="rotate({turn:g} 50 50)" stroke="{INK}" stroke-width="5" fill="none" '
        f'stroke-linecap="round"><line x1="50" y1="85" x2="50" y2="15"/>'
        f'<polyline points="50,15 {barb}"/></g>'
    )


def dot_in_corner(corner: int) -> str:
    """A square frame with a filled dot in one corner (0 top left, then clockwise)."""
    cx, cy = [(30, 30), (70, 30), (70, 70), (30, 70)][corner % 4]
    return square(35) + f'<circle cx="{cx}" cy="{cy}" r="9" fill="{INK}"/>'


def quarters(shaded: int) -> str:
    """A circle in four quarters, the first ``shaded`` (clockwise from the top right)
    filled."""
    paths = []
    ends = [(50, 16), (84, 50), (50, 84), (16, 50), (50, 16)]
    for k in range(4):
        (x1, y1), (x2, y2) = ends[k], ends[k + 1]
        fill = INK if k < shaded else "none"
        paths.append(
            f'<path d="M50,50 L{x1},{y1} A34,34 0 0 1 {x2},{y2} Z" fill="{fill}" '
            f'stroke="{INK}" stroke-width="3"/>'
        )
    return "".join(paths)


def question_mark() -> str:
    return (
        f'<text x="50" y="66" font-size="48" text-anchor="middle" font-family="sans-serif" '
        f'fill="{INK}">?</text>'
    )


def picture(*cells: str, framed: bool = True) -> bytes:
    """The cells side by side in one SVG file, each in a light frame."""
    width = CELL * len(cells)
    body = []
    for k, cell in enumerate(cells):
        frame = (
            '<rect x="2" y="2" width="96" height="96" fill="#fff" stroke="#8a949e" '
            'stroke-width="1.5"/>'
            if framed
            else ""
        )
        body.append(f'<g transform="translate({k * CELL} 0)">{frame}{cell}</g>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {CELL}" '
        f'width="{width}" height="{CELL}">{"".join(body)}</svg>'
    ).encode()
