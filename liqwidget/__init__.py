"""liqwidget: crypto-futures liquidation maps — real liquidations and estimated clusters."""

from .estimate import ClusterEstimate
from .heatmap import Heatmap
from .liquidation import Brackets, liquidation_price, load_brackets
from .market import MarketData, MarketDataError, load_sample
from .model import ClusterModel

__all__ = [
    "Brackets",
    "ClusterEstimate",
    "ClusterModel",
    "Heatmap",
    "MarketData",
    "MarketDataError",
    "liquidation_price",
    "load_brackets",
    "load_sample",
]
__version__ = "0.1.0"
