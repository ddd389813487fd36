"""Figures for simulation studies (matplotlib, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from exam.cat.simulation import SimulationResult
from exam.i18n import translate
from scoring.irt import item_information
from scoring.params import ItemParams, ItemSpec


def simulation_figure(result: SimulationResult, path: str) -> None:
    """Conditional bias, RMSE and mean SE by true θ, and the item exposure distribution."""
    fig = _simulation(result, "en")
    fig.savefig(path)
    plt.close(fig)


def simulation_svg(result: SimulationResult, title: str = "", lang: str = "id") -> bytes:
    """The simulation figure as SVG, for a page in ``lang``."""
    fig = _simulation(result, lang)
    if title:
        fig.suptitle(title)
    out = io.BytesIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out.getvalue()


def _simulation(result: SimulationResult, lang: str):
    def _(key: str) -> str:
        return translate(lang, key)

    bins = result.csem()
    mids = [(b["theta_low"] + b["theta_high"]) / 2 for b in bins]
    bias = []
    for b in bins:
        sel = (result.true_theta >= b["theta_low"]) & (result.true_theta < b["theta_high"])
        err = result.theta[sel] - result.true_theta[sel]
        bias.append(float(err.mean()) if sel.any() else np.nan)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    left.plot(mids, [b["rmse"] for b in bins], "o-", label="RMSE")
    left.plot(mids, [b["mean_se"] for b in bins], "s--", label=_("plot.mean_se"))
    left.plot(mids, bias, "^:", label=_("plot.bias"))
    left.axhline(0, color="grey", lw=0.8)
    left.set_xlabel(_("plot.true_theta"))
    left.set_title(_("plot.precision"))
    left.legend()
    rates = np.sort(result.exposure_rates)[::-1]
    right.plot(np.arange(1, rates.size + 1), rates, lw=1.5)
    right.set_xlabel(_("plot.items_by_exposure"))
    right.set_ylabel(_("plot.exposure_rate"))
    heading = _("plot.exposure")
    right.set_title(f"{heading} ({_('plot.max')} {rates[0]:.3f})" if rates.size else heading)
    return fig


def information_curve_svg(spec: ItemSpec) -> bytes:
    """The item information curve I(θ) over θ ∈ [−4, 4] as an SVG image."""
    params = ItemParams.from_specs([spec])
    theta = np.linspace(-4, 4, 161)
    info = item_information(params, theta)[:, 0]
    fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
    ax.plot(theta, info, color="#0b5394", lw=2)
    ax.set_xlabel("θ")
    ax.set_ylabel("I(θ)")
    ax.set_title(f"{spec.item_id} ({spec.model})")
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    return buf.getvalue()
