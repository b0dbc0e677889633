"""The measured-accuracy section of the model explainer, generated at build time."""

from __future__ import annotations

from ..calibration import calibrate
from ..escape import md_text
from ..model import ClusterModel
from ..sides import SIDES
from ..sources.dataset import Dataset
from .accuracy import MIN_EVENTS
from .fmt import pct

ACCURACY_MARKER = "<!-- liqwidget:accuracy -->"


def accuracy_markdown(data: Dataset, model_params: dict | None = None) -> str:
    """Timing and location scores of the model over all of ``data``, as Markdown."""
    if data.liquidations is None or len(data.liquidations) < MIN_EVENTS:
        return (
            f"This build used {md_text(data.origin)}. It contains no liquidation events, so nothing "
            "could be scored here. Build the site from the simulator (`liqwidget site build "
            "--source sim`) or from a store with recorded liquidations to see the numbers."
        )
    estimate = ClusterModel(**(model_params or {})).estimate(data.market)
    cal = calibrate(estimate, data.liquidations)
    t = cal.timing
    rows = [
        "| Side | Predictor | Spearman ρ | Top-decile precision (95 % interval) |",
        "|---|---|--:|--:|",
    ]
    for side in SIDES:
        if side not in t.index.get_level_values(0):
            continue
        for name, r in t.loc[side].iterrows():
            label = "**cluster model**" if name == "model" else f"baseline: {md_text(name)}"
            rows.append(
                f"| {side} | {label} | {r['spearman']:.2f} | {pct(r['top_decile_precision'])} "
                f"({pct(r['precision_low'])}–{pct(r['precision_high'])}) |"
            )
    verdicts = []
    for side in SIDES:
        if side not in t.index.get_level_values(0):
            continue
        others = t.loc[side].drop("model")["spearman"]
        best = others.astype(float).idxmax()
        m = float(t.loc[(side, "model"), "spearman"])
        beaten = m > float(others[best])
        verdicts.append(
            f"On {side} liquidations the model "
            + ("beats" if beaten else "does **not** beat")
            + f" its strongest baseline ({md_text(best)}, ρ = {float(others[best]):.2f})."
        )
    text = [
        f"Data: {md_text(data.origin)}; {len(data.market):,} bars, {len(data.liquidations):,} "
        "liquidation events, default model settings.",
        "",
        "\n".join(rows),
        "",
        " ".join(verdicts),
    ]
    loc = cal.location
    if loc is not None and len(loc):
        text += [
            "",
            "| Side | Real notional in the model's top-decile bands | Random bands | "
            "Bands nearest to price |",
            "|---|--:|--:|--:|",
        ]
        for r in loc.itertuples():
            text.append(
                f"| {r.side} | {pct(r.model_top_decile_share)} | {pct(r.random_bins_share)} | "
                f"{pct(r.nearest_bins_share)} |"
            )
        weak = [r.side for r in loc.itertuples() if r.model_top_decile_share <= r.random_bins_share]
        near = [r.side for r in loc.itertuples() if r.nearest_bins_share > r.model_top_decile_share]
        if weak:
            text += [
                "",
                f"For {' and '.join(weak)} liquidations the model's densest bands caught no more "
                "than random bands would: on this data the map is better at *when* than at "
                "*exactly where*.",
            ]
        if near:
            text += [
                "",
                f'Be aware that for {" and ".join(near)} liquidations the simple rule "the bands '
                "just next to the price\" caught more real notional than the model's densest "
                "bands. Most liquidations happen close to price, so proximity alone is a strong "
                "baseline; the bands add information about *how much* is stacked, less about the "
                "exact level.",
            ]
    return "\n".join(text)


SETTINGS_MARKER = "<!-- liqwidget:model-settings -->"
LATEST_MARKER = "<!-- liqwidget:latest -->"

_SETTING_NAMES = {
    "leverage": "Leverage mix (leverage: share of new open interest)",
    "side_split": "Long/short split of new open interest",
    "entry": "Entry price of a bar's new positions",
    "formula": "Liquidation-price formula",
    "mmr": "Maintenance margin rate",
    "turnover": "Turnover (positions re-entered near price over this time)",
    "leverage_jitter": "Spread of leverage around each setting",
    "seed": "Positions already open at the start",
    "decay": "Extra closing half-life",
}


def settings_markdown(model_params: dict | None = None) -> str:
    """The model settings a build used, as a Markdown table."""
    params = ClusterModel(**(model_params or {})).get_params()
    rows = ["| Setting | Value |", "|---|---|"]
    for key, label in _SETTING_NAMES.items():
        if key not in params:
            continue
        value = params[key]
        if key == "leverage":
            total = sum(value.values())
            value = ", ".join(f"{lev:g}x: {w / total:.0%}" for lev, w in sorted(value.items()))
        elif key == "mmr":
            value = pct(float(value))
        elif value is None:
            value = "none"
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
