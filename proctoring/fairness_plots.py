"""Figures of the fairness report: SE by θ̂ bin per group, exposure histogram, information.

Each function draws on its own ``matplotlib.figure.Figure`` with an Agg canvas (no pyplot,
no display) and returns the figure as SVG text and PNG bytes. SVG text stays text
(``svg.fonttype = none``), so labels are searchable and screen readers can read them, and
the SVG carries no date, so the same data give the same file.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from proctoring.fairness import ConditionalSE, ExposureReport, InformationCurves

_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "seleksi-fairness"}


@dataclass(frozen=True)
class Rendered:
    """One figure as SVG text and PNG bytes."""

    svg: str
    png: bytes


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _render(fig: Figure) -> Rendered:
    svg, png = io.BytesIO(), io.BytesIO()
    with mpl.rc_context(_SVG_RC):
        fig.savefig(svg, format="svg", metadata={"Date": None})
    fig.savefig(png, format="png", metadata={"Software": None})
    return Rendered(svg.getvalue().decode("utf-8"), png.getvalue())


def _bin_positions(low: float, high: float, step: float) -> float:
    """Centre of a bin; an open-ended bin is drawn half a bin width past its edge."""
    if np.isinf(low):
        return high - step / 2
    if np.isinf(high):
        return low + step / 2
    return (low + high) / 2


def conditional_se_plot(table: ConditionalSE, title: str = "") -> Rendered:
    """Mean SE of θ̂ by θ̂ bin, one line per group with its interval, one panel per
    attribute (groups drawn slightly apart along θ̂ so their intervals stay visible)."""
    attributes = list(dict.fromkeys(b.attribute for b in table.bins))
    panels = max(len(attributes), 1)
    fig = _new_figure(4.2 * panels, 3.4)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    edges = np.asarray(table.edges)
    step = float(np.min(np.diff(edges))) if edges.size > 1 else 1.0
    for ax, attribute in zip(axes, attributes, strict=False):
        rows = [b for b in table.bins if b.attribute == attribute]
        names = list(dict.fromkeys(b.group for b in rows))
        for k, group in enumerate(names):
            mine = sorted((b for b in rows if b.group == group), key=lambda b: b.low)
            dodge = step * 0.08 * (k - (len(names) - 1) / 2)
            xs = np.array([_bin_positions(b.low, b.high, step) + dodge for b in mine])
            ys = np.array([b.mean_se for b in mine])
            lo = np.array([b.ci_low for b in mine])
            hi = np.array([b.ci_high for b in mine])
            n = sum(b.n for b in mine)
            line = ax.plot(xs, ys, "o-", ms=3.5, lw=1.4, label=f"{group} (n={n})")[0]
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.vlines(xs[ok], lo[ok], hi[ok], color=line.get_color(), lw=1.0, alpha=0.6)
        ax.set_title(attribute)
        ax.set_xlabel("θ̂ (kemampuan / ability)")
        ax.set_ylabel("Galat baku (SE)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if not attributes:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "Tidak ada data (no data)", ha="center", va="center")
    level = round(100 * table.level)
    fig.suptitle(title or f"Galat baku menurut θ̂ (conditional SE, {level} % CI)", fontsize=11)
    return _render(fig)


def exposure_plot(report: ExposureReport, title: str = "") -> Rendered:
    """Number of items per exposure-rate bin, with the maximum rate and the overlap."""
    fig = _new_figure(6.0, 3.4)
    ax = fig.subplots()
    edges = report.hist_edges
    labels = [f"{lo:g}–{hi:g}" for lo, hi in itertools.pairwise(edges)]
    ax.bar(np.arange(len(labels)), report.histogram, color="#0b5394")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("Tingkat paparan butir (item exposure rate)")
    ax.set_ylabel("Jumlah butir (items)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(
        title
        or (
            f"Paparan maks. (max) {report.max_rate:.3f}; "
            f"tak terpakai (unused) {report.never_used:.1%}\n"
            f"Tumpang tindih tes (test overlap) {report.overlap_formula:.3f}"
        ),
        fontsize=9,
    )
    return _render(fig)


def information_plot(
    curves: InformationCurves, attribute: str | None = None, title: str = ""
) -> Rendered:
    """Mean test information (left) and 1/√I (right) over θ, overall and per group of
    ``attribute`` (default: the first attribute in ``curves``)."""
    names = list(dict.fromkeys(g.attribute for g in curves.groups))
    chosen = attribute if attribute is not None else (names[0] if names else None)
    fig = _new_figure(9.0, 3.4)
    left, right = fig.subplots(1, 2)
    th = curves.theta
    left.plot(th, curves.mean_information, color="black", lw=1.2, ls="--", label="semua (all)")
    right.plot(th, curves.mean_se, color="black", lw=1.2, ls="--", label="semua (all)")
    for g in curves.groups:
        if g.attribute != chosen:
            continue
        label = f"{g.group} (n={g.n})"
        line = left.plot(th, g.information, lw=1.6, label=label)[0]
        right.plot(th, g.se, lw=1.6, color=line.get_color(), label=label)
    left.set_ylabel("Informasi tes (test information)")
    right.set_ylabel("Galat baku (SE) = 1/√I")
    finite = curves.mean_se[np.isfinite(curves.mean_se)]
    if finite.size:
        right.set_ylim(0, min(float(np.max(finite)) * 1.05, 3.0))
    for ax in (left, right):
        ax.set_xlabel("θ (kemampuan / ability)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    heading = "Informasi tes yang diberikan (information of the tests given)"
    if chosen:
        heading += f": {chosen}"
    fig.suptitle(title or heading, fontsize=11)
    return _render(fig)


__all__ = ["Rendered", "conditional_se_plot", "exposure_plot", "information_plot"]
