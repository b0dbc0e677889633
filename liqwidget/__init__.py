"""liqwidget: crypto-futures liquidation maps — real liquidations and estimated clusters.

Data flows one way: bars (:class:`MarketData`, from the sample, the simulator or the
store) → :class:`ClusterModel` → :class:`ClusterEstimate` (grids, levels, swept notional)
→ :func:`calibrate` against real liquidations → the Bokeh figure, shown by the
:class:`LiquidationMap` widget and by the static site.
"""

from importlib.metadata import version

from .calibration import calibrate
from .estimate import ClusterEstimate
from .heatmap import Heatmap
from .many import StoredMarket, estimate_many
from .margin import Brackets, liquidation_price, load_brackets
from .market import MarketData, MarketDataError, load_sample
from .model import ClusterModel
from .simulator import Simulation, simulate
from .store import Store
from .venues import Venue, aggregate

__all__ = [
    "Brackets",
    "ClusterEstimate",
    "ClusterModel",
    "Heatmap",
    "LiquidationMap",
    "MarketData",
    "MarketDataError",
    "Simulation",
    "Store",
    "StoredMarket",
    "Venue",
    "aggregate",
    "build_figure",
    "calibrate",
    "estimate_many",
    "liquidation_price",
    "load_brackets",
    "load_sample",
    "simulate",
]
__version__ = version("liqwidget")


def __getattr__(name: str):
    # The widget and the figure pull in anywidget and Bokeh; load them on first use.
    if name == "LiquidationMap":
        from .widget import LiquidationMap

        return LiquidationMap
    if name == "build_figure":
        from .figure import build_figure

        return build_figure
    raise AttributeError(f"module 'liqwidget' has no attribute {name!r}")
