"""A static PNG of a snapshot's map, for feeds, link previews and readers without JavaScript.

Drawn from the same model grid as the interactive map, with numpy for the colours and Pillow
(a dependency of bokeh) to encode the PNG and draw the price line and labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from ..figure.palettes import BACKGROUND as MAP_BACKGROUND
from ..fmt import price as fmt_price
from ..heatmap import Heatmap
from ..market import MarketData

BACKGROUND = np.array(ImageColor.getrgb(MAP_BACKGROUND), dtype="float64")  # the map's own
LONG_RGB = np.array([64, 170, 255], dtype="float64")  # long liquidations (below price)
SHORT_RGB = np.array([255, 140, 40], dtype="float64")  # short liquidations (above price)
PRICE_RGB = (240, 240, 240)
MARGIN_LEFT, MARGIN_BOTTOM = 64, 22


def _intensity(layer: np.ndarray, scale: float) -> np.ndarray:
    """Map notional to 0..1 with a gamma curve that keeps fainter bands visible."""
    if scale <= 0:
        return np.zeros_like(layer)
    return np.clip(layer / scale, 0.0, 1.0) ** 0.7


def heatmap_rgb(grid: Heatmap) -> np.ndarray:
    """The two layers blended over a dark background, shape (height, width, 3), top row = high price."""
    scale = float(np.quantile(grid.total[grid.total > 0], 0.995)) if np.any(grid.total > 0) else 0.0
    a_long = _intensity(grid.long, scale)[..., None]
    a_short = _intensity(grid.short, scale)[..., None]
    rgb = BACKGROUND + a_long * (LONG_RGB - BACKGROUND) + a_short * (SHORT_RGB - BACKGROUND)
    return np.clip(rgb[::-1], 0, 255).astype("uint8")


def render_preview(grid: Heatmap, market: MarketData, path: Path, scale: int = 1) -> Path:
    """Write the preview PNG: heatmap, closing-price line and price/time labels."""
    body = Image.fromarray(heatmap_rgb(grid), "RGB")
    if scale > 1:
        body = body.resize((body.width * scale, body.height * scale), Image.Resampling.NEAREST)
    w, h = body.size
    img = Image.new("RGB", (w + MARGIN_LEFT, h + MARGIN_BOTTOM), tuple(BACKGROUND.astype(int)))
    img.paste(body, (MARGIN_LEFT, 0))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()

    t0, t1 = grid.time_edges[0].value, grid.time_edges[-1].value
    p0, p1 = float(grid.price_edges[0]), float(grid.price_edges[-1])
    bars = market.slice(grid.time_edges[0], grid.time_edges[-1])
    if len(bars):
        x = MARGIN_LEFT + (bars.index.asi8 + bars.timeframe.value - t0) / (t1 - t0) * w
        y = (1.0 - (bars.column("close") - p0) / (p1 - p0)) * h
        draw.line(
            list(zip(x.tolist(), y.tolist(), strict=True)), fill=PRICE_RGB, width=max(1, scale)
        )

    grey = (170, 176, 190)
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        yy = int((1 - frac) * (h - 1))
        draw.line([(MARGIN_LEFT - 4, yy), (MARGIN_LEFT, yy)], fill=grey)
        label = fmt_price(p0 + frac * (p1 - p0))
        draw.text((2, min(max(yy - 6, 0), h - 12)), label, fill=grey, font=font)
    for frac, anchor in ((0.0, 0), (1.0, 1)):
        t = grid.time_edges[0] if frac == 0 else grid.time_edges[-1]
        label = f"{t:%d %b %H:%M} UTC"
        tx = MARGIN_LEFT + 2 if anchor == 0 else MARGIN_LEFT + w - 6 * len(label) - 2
        draw.text((tx, h + 5), label, fill=grey, font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A 256-colour palette keeps the look and makes the file about a fifth of full RGB.
    img.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, format="PNG", optimize=True)
    return path
