"""The liquidation-map figure: one Bokeh layout for the widget, the site pages and embeds."""

from .data import DEFAULT_RESOLUTION, FigureData, decode_layer, encode_layer, figure_data
from .item import figure_item
from .layout import NAMES, build_figure, layout_from

__all__ = [
    "DEFAULT_RESOLUTION",
    "NAMES",
    "FigureData",
    "build_figure",
    "decode_layer",
    "encode_layer",
    "figure_data",
    "figure_item",
    "layout_from",
]
