"""The liquidation-map figure: one Bokeh layout for the widget, the site pages and embeds."""

from .data import DEFAULT_RESOLUTION, FigureData, decode_layer, encode_layer, figure_data
from .layout import NAMES, build_figure, layout_from

__all__ = [
    "DEFAULT_RESOLUTION",
    "NAMES",
    "FigureData",
    "build_figure",
    "decode_layer",
    "encode_layer",
    "figure_data",
    "layout_from",
]
