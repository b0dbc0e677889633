"""The measured-accuracy section of the model explainer, generated at build time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..escape import md_text
from ..fmt import pct
from ..forecast import HORIZONS
from ..location import oracle_check, scorecard
from ..model import ClusterModel
from ..sources.dataset import Dataset
from .accuracy import MIN_EVENTS

ACCURACY_MARKER = "<!-- liqwidget:accuracy -->"


def accuracy_markdown(data: Dataset, model_params: dict | None = None) -> str:
    """Timing and where scores of the model over all of ``data`` next to every baseline (and,
    on simulated data, the true book as the ceiling), as Markdown."""
    if data.liquidations is None or len(data.liquidations) < MIN_EVENTS:
        return (
            f"This build used {md_text(data.origin)}. It contains no liquidation events, so nothing "
            "could be scored here. Build the site from the simulator (`liqwidget site build "
            "--source sim`) or from a store with recorded liquidations to see the numbers."
        )
    estimate = ClusterModel(**(model_params or {})).estimate(data.market)
    card = scorecard(estimate, data.liquidations, truth=data.truth, horizons=HORIZONS[:2])
    oracle = data.truth is not None
    text = [
        f"Data: {md_text(data.origin)}; {len(data.market):,} bars, {len(data.liquidations):,} "
        "liquidation events, default model settings."
        + (
            " The **true book** (every simulated position) is scored exactly like the model: "
            "it is the ceiling, and a score where it does not clearly beat every naive rule "
            "is not shown as a measure of the map."
            if oracle
            else ""
        ),
    ]
    valid = oracle_check(card) if oracle else None
    for (measure, horizon, metric), part in card.groupby(
        ["measure", "horizon", "metric"], sort=False
    ):
        title = _TITLES[(measure, metric)] + (f", next {horizon}" if horizon else "")
        wide = part.pivot_table(index="scorer", columns="side", values="value", sort=False)
        order = [s for s in ("oracle", "model") if s in wide.index]
        wide = wide.loc[order + [s for s in wide.index if s not in order]]
        text += ["", f"**{title}**", "", "| Predictor | " + " | ".join(wide.columns) + " |"]
        text.append("|---|" + "--:|" * len(wide.columns))
        for name, r in wide.iterrows():
            label = _LABELS.get(name, f"baseline: {md_text(name)}")
            text.append(f"| {label} | " + " | ".join(_fmt(metric, v) for v in r) + " |")
        notes = []
        for side in wide.columns:
            others = wide.drop(index=order)[side].astype(float)
            best = str(others.idxmax())
            if valid is not None and not valid.loc[(measure, horizon, metric, side), "valid"]:
                notes.append(
                    f"On {side}s the true book does not clearly beat {md_text(best)}: here this "
                    "score does not measure the map, so it is not quoted."
                )
                continue
            beaten = float(wide.loc["model", side]) > float(others[best])
            notes.append(
                f"On {side}s the model "
                + ("beats" if beaten else "does **not** beat")
                + f" its strongest baseline ({md_text(best)})."
            )
        text += ["", " ".join(notes)]
    return "\n".join(text)


_TITLES = {
    ("timing", "spearman"): "When: Spearman ρ of swept notional and real liquidations per bar",
    ("timing", "top_decile_precision"): "When: top-decile precision (random 10 %)",
    ("given price", "spearman"): "Where, given that price went there: Spearman ρ per hour",
    ("given price", "top_share"): (
        "Where, given that price went there: share of liquidated notional in the densest of "
        "ten bands traded through"
    ),
    ("forecast", "top_share"): "Forecast: share of liquidated notional in the top tenth of bands",
    ("forecast", "log_score"): (
        "Forecast: log score, bits per dollar above a uniform forecast (random 0)"
    ),
}
_LABELS = {"oracle": "*true book (ceiling)*", "model": "**cluster model**"}


def _fmt(metric: str, v: float) -> str:
    if not np.isfinite(v):
        return "—"
    return pct(v) if metric in ("top_share", "top_decile_precision") else f"{v:.2f}"


SETTINGS_MARKER = "<!-- liqwidget:model-settings -->"
LATEST_MARKER = "<!-- liqwidget:latest -->"

#: How each ClusterModel parameter is named in the settings table. The table lists every
#: constructor parameter (read from its signature), so a new one shows up by itself; a test
#: checks that each has a label here.
SETTING_LABELS = {
    "leverage": "Leverage mix (leverage: share of new open interest)",
    "side_split": "Long/short split of new open interest",
    "formula": "Liquidation-price formula",
    "mmr": "Maintenance margin rate",
    "brackets": "Maintenance-margin brackets",
    "position_notional": "Notional of one position, for bracket lookup",
    "entry": "Entry price of a bar's new positions",
    "seed": "Positions already open at the start",
    "seed_age": "Age spread of the positions open at the start",
    "seed_long_share": "Long share of the positions open at the start",
    "decay": "Extra closing half-life",
    "turnover": "Turnover (positions re-entered near price over this time)",
    "turnover_every": "Turnover pooled onto one bar per",
    "leverage_jitter": "Spread of leverage around each setting",
    "tick": "Price grid of the levels",
    "path_steps": "Steps each coarse bar is walked in (positions open along the bar)",
    "exchange_formulas": "Each exchange's own formula on aggregated markets",
}


def settings_markdown(model_params: dict | None = None) -> str:
    """The model settings a build used, as a Markdown table: every constructor parameter."""
    params = ClusterModel(**(model_params or {})).get_params()
    rows = ["| Setting | Value |", "|---|---|"]
    for key, value in params.items():
        label = SETTING_LABELS.get(key, key)
        if key == "leverage":
            total = sum(value.values())
            value = ", ".join(f"{lev:g}x: {w / total:.0%}" for lev, w in sorted(value.items()))
        elif key == "mmr":
            value = pct(float(value))
        elif value is None:
            value = "none"
        elif not isinstance(value, str | int | float | bool | pd.Timedelta):
            value = type(value).__name__
        rows.append(f"| {label} | {md_text(str(value))} |")
    return "\n".join(rows)


def latest_markdown(title: str, slug: str, lead: str, preview: str) -> str:
    """The home page's block for the newest snapshot (paths relative to the home page).

    ``title`` and ``lead`` are plain text; ``slug`` and ``preview`` come from :func:`slug`.
    """
    title, lead = md_text(title), md_text(lead)
    return (
        f"## Latest snapshot\n\n**[{title}](blog/posts/snapshots/{slug}.md)**\n\n{lead}\n\n"
        f"[![Static preview of the latest map]({preview})](blog/posts/snapshots/{slug}.md)\n"
    )
