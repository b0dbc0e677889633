"""liqwidget: crypto-futures liquidation maps — real liquidations and estimated clusters."""

from .heatmap import Heatmap
from .liquidation import Brackets, liquidation_price, load_brackets
from .market import MarketData, MarketDataError, load_sample

__all__ = [
    "Brackets",
    "Heatmap",
    "MarketData",
    "MarketDataError",
    "liquidation_price",
    "load_brackets",
    "load_sample",
]
__version__ = "0.1.0"
