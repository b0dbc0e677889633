"""``LiquidationMap``: the notebook widget (anywidget) around the one Bokeh figure."""

from __future__ import annotations

import pathlib
from typing import Any

import anywidget
import anywidget.experimental
import bokeh
import numpy as np
import pandas as pd
import traitlets

from ..estimate import ClusterEstimate
from ..events import empty_events, validate_events
from ..figure import FigureData, figure_data, figure_item, layout_from
from ..figure.callbacks import DEFAULT_LAYERS, LAYERS
from ..figure.layout import LEVEL_PANEL_WIDTH
from ..forecast import DEFAULT_HORIZON
from ..heatmap import price_bins
from ..market import MarketData, load_sample
from ..model import ClusterModel
from ..times import utc
from . import protocol
from .follow import StoreFollower, running_loop
from .traits import TIME, TIME_RANGE, PriceRange, TimeRange, Timestamp
from .wire import SourceTrait, assign, wire_spec

STATIC = pathlib.Path(__file__).parent.parent / "static"
BUNDLE = STATIC / "widget.js"
#: Shown instead of the map when the front end was never built (a source checkout).
NOT_BUILT_ESM = """
export default { render({ el }) {
  el.innerHTML = '<pre style="color:#b91c1c">liqwidget: the widget front end is not built ' +
    '(liqwidget/static/widget.js is missing). Reinstall with  pip install -e .  or run  ' +
    'npm ci && npm run build  in the repository.</pre>';
} };
"""


class LiquidationMap(anywidget.AnyWidget):
    """An interactive liquidation map: estimated clusters, real liquidations and price.

    ``estimate_or_market`` is a :class:`~liqwidget.ClusterEstimate`, a
    :class:`~liqwidget.MarketData` (estimated with ``model``, default ``ClusterModel()``), a
    simulation result (anything with ``.market`` and ``.liquidations``) or ``None`` for the
    built-in sample. ``liquidations`` is an event frame (see :mod:`liqwidget.events`).

    The traits ``layers``, ``threshold``, ``min_leverage`` (the levels panel's tier filter),
    ``cursor``, ``x_range`` and ``y_range`` follow what
    the user does in the browser and can be set from Python; ``forecast_horizon`` sets the
    horizon of the Forecast layer (expected liquidations over the next ``H``). With ``sharpen`` (default), a
    zoom or pan redraws the heat layers for the visible window at display resolution.
    """

    _esm = BUNDLE if BUNDLE.exists() else NOT_BUILT_ESM

    layers = traitlets.List(traitlets.Unicode(), default_value=list(DEFAULT_LAYERS)).tag(sync=True)
    #: Horizon of the Forecast layer (a pandas time span such as ``"1h"``, ``"4h"``, ``"1D"``).
    forecast_horizon = traitlets.Unicode(DEFAULT_HORIZON).tag(sync=True)
    threshold = traitlets.Float(0.4, min=0.0, max=0.95).tag(sync=True)
    #: The levels panel shows leverage tiers at or above this (0: all; the tier filter).
    min_leverage = traitlets.Float(0.0, min=0.0).tag(sync=True)
    cursor = Timestamp(None, allow_none=True).tag(sync=True, **TIME)
    x_range = TimeRange(None, allow_none=True).tag(sync=True, **TIME_RANGE)
    y_range = PriceRange(None, allow_none=True).tag(sync=True)
    #: Sequence number of the last data update the browser has drawn (set by the front end).
    rendered = traitlets.Int(0).tag(sync=True)

    bokeh_version = traitlets.Unicode(bokeh.__version__, read_only=True).tag(sync=True)
    _spec = traitlets.Dict().tag(sync=True)
    # The figure's data sources, one trait each with its own binary serialiser (see
    # wire.SourceTrait): traitlets sends only traits whose value changed, so an update
    # ships only the sources that differ. A new source needs only a new line here.
    _clusters = SourceTrait("clusters-source")
    _real = SourceTrait("real-source")
    _forecast = SourceTrait("forecast-source")
    _price = SourceTrait("price-source")
    _events = SourceTrait("events-source")
    _levels = SourceTrait("levels-source")
    _frames = SourceTrait("levels-frames")
    _forecast_profile = SourceTrait("forecast-profile")
    #: Trait → source map and layer names for the front end (see wire.wire_spec).
    _wire = traitlets.Dict().tag(sync=True)
    # Scalar properties of named models, and the update sequence number (changes last in
    # every update; the front end redraws then).
    _props = traitlets.Dict().tag(sync=True)
    _seq = traitlets.Int(0).tag(sync=True)
    _render_log = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        estimate_or_market: ClusterEstimate | MarketData | Any = None,
        liquidations: pd.DataFrame | None = None,
        model: ClusterModel | None = None,
        *,
        width: int = 900,
        height: int = 460,
        resolution: tuple[int, int] | None = None,
        cursor_steps: int = 144,
        max_markers: int = 600,
        sharpen: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._wire = wire_spec(type(self), LAYERS)
        self._size = (int(width), int(height))
        self._resolution = resolution or (int(width) - LEVEL_PANEL_WIDTH, int(height))
        self._cursor_steps = int(cursor_steps)
        self._max_markers = int(max_markers)
        self._sharpen = bool(sharpen)
        self._pushing = False
        self._tiers: tuple[float, ...] | None = None
        self._figure_data: FigureData | None = None
        self._model = model
        self._estimate: ClusterEstimate | None = None
        self._liqs = empty_events()
        self.update(estimate_or_market, liquidations, model=model, reset_view=True)

    # ------------------------------------------------------------------ public state
    @property
    def estimate(self) -> ClusterEstimate:
        return self._estimate

    @property
    def market(self) -> MarketData:
        return self._estimate.market

    @property
    def model(self) -> ClusterModel:
        return self._model

    @property
    def liquidations(self) -> pd.DataFrame:
        return self._liqs

    @property
    def figure_data(self) -> FigureData:
        """The arrays currently shown (as sent to the browser)."""
        return self._figure_data

    # ------------------------------------------------------------------ updates
    def update(
        self,
        estimate_or_market=None,
        liquidations: pd.DataFrame | None = None,
        *,
        model: ClusterModel | None = None,
        reset_view: bool = False,
    ) -> None:
        """Replace the data (and/or the model); the open map redraws in place."""
        if model is not None:
            self._model = model
        source = estimate_or_market
        if source is None and self._estimate is None:
            source = load_sample()
        if source is not None and hasattr(source, "market") and hasattr(source, "liquidations"):
            if liquidations is None:
                liquidations = source.liquidations
            source = source.market
        if isinstance(source, ClusterEstimate):
            self._estimate = source
            if self._model is None:
                self._model = ClusterModel(**source.params)
        elif isinstance(source, MarketData):
            self._model = self._model or ClusterModel()
            self._estimate = self._model.estimate(source)
        elif source is None:
            self._model = self._model or ClusterModel()
            if model is not None:
                self._estimate = self._model.estimate(self._estimate.market)
        else:
            raise TypeError(
                "LiquidationMap takes a ClusterEstimate, MarketData or a simulation result, "
                f"got {type(source).__name__}"
            )
        if liquidations is not None:
            self._liqs = validate_events(liquidations)
        self._push(reset_view=reset_view)

    def set_params(self, **params) -> LiquidationMap:
        """Change model parameters (as ``ClusterModel.set_params``) and redraw in place."""
        self._model.set_params(**params)
        self._estimate = self._model.estimate(self._estimate.market)
        self._push()
        return self

    def append_bars(self, bars: pd.DataFrame | MarketData) -> None:
        """Add newer bars (same columns and timeframe) and redraw; the model is re-run."""
        new = bars.frame if isinstance(bars, MarketData) else bars
        m = self.market
        frame = pd.concat([m.frame, MarketData.from_frame(new, timeframe=m.timeframe).frame])
        market = MarketData.from_frame(
            frame,
            timeframe=m.timeframe,
            allow_gaps=bool(m.gaps),
            symbol=m.symbol,
            exchange=m.exchange,
        )
        self._estimate = self._model.estimate(market)
        self._push(follow=True)

    def append_liquidations(self, events: pd.DataFrame) -> None:
        """Add real liquidation events (the event-frame format) and redraw."""
        new = validate_events(events)
        both = pd.concat([self._liqs, new], ignore_index=True) if len(self._liqs) else new
        self._liqs = validate_events(both)
        self._push()

    def follow(
        self,
        store,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        every: float = 1.0,
        since_start: bool = False,
        bars: bool = True,
    ):
        """Follow a :class:`~liqwidget.Store` live: liquidations recorded there from now on
        (or all of them with ``since_start``) appear on the map and, with ``bars``, new bars
        of the map's market with their open interest extend it (the clusters are
        re-estimated, so they move), polled every ``every`` seconds in the kernel's event
        loop. ``liqwidget live`` (or ``record`` plus ``fetch``) fills the store. Returns the
        follower; call ``.stop()`` on it."""
        follower = StoreFollower(self, store, exchange, symbol, every, since_start, bars)
        if running_loop() is None:
            return follower  # no loop (plain Python): call follower.poll() yourself
        return follower.start()

    # ------------------------------------------------------------------ internals
    def _push(self, reset_view: bool = False, follow: bool = False) -> None:
        old = self._figure_data
        first = old is None
        extent = self._extent()
        view = None
        if not (reset_view or first) and self.x_range is not None and self.y_range is not None:
            xs, xe = (t.value / 1e6 for t in self.x_range)
            if follow:  # streaming: slide the visible window along with the new bars
                shift = extent[1] - old.props["cursor-slider"]["end"]
                xs, xe = xs + shift, xe + shift
            view = (xs, xe, *self.y_range)
        time_range, price_range, resolution = self._window(view, extent)
        data = figure_data(
            self._estimate,
            self._liqs,
            resolution=resolution,
            time_range=time_range,
            price_range=price_range,
            cursor_steps=self._cursor_steps,
            max_markers=self._max_markers,
            cursor_range=tuple(utc(t) for t in extent[:2]),
            forecast_horizon=self.forecast_horizon,
        )
        self._figure_data = data
        if first or data.tiers != self._tiers:
            self._tiers = data.tiers
            width, height = self._size
            layout = layout_from(
                data.placeholder(),
                width=width,
                height=height,
                threshold=self.threshold,
                layers=self.layers,
            )
            self._spec = figure_item(layout)
        props = {k: dict(v) for k, v in data.props.items()}
        cursor = self._cursor_after(old, extent)
        props["cursor-slider"]["value"] = cursor
        props["cursor-span"] = {"location": cursor}
        if view is None:
            props["time-range"] = {"start": extent[0], "end": extent[1]}
            props["price-range"] = {"start": extent[2], "end": extent[3]}
        else:
            del props["price-range"]
            props["time-range"] = {"start": view[0], "end": view[1]}
            if not follow:
                del props["time-range"]
        self._pushing = True
        try:
            with self.hold_sync():
                for trait, cols in assign(type(self), data.sources).items():
                    setattr(self, trait, cols)  # unchanged sources are not sent again
                self._props = props
                self.cursor = cursor
                if "time-range" in props:
                    self.x_range = (props["time-range"]["start"], props["time-range"]["end"])
                if "price-range" in props:
                    self.y_range = (props["price-range"]["start"], props["price-range"]["end"])
                self._seq += 1
        finally:
            self._pushing = False

    def _extent(self) -> tuple[float, float, float, float]:
        """Whole data: first bar open to last bar close (epoch ms), default price range."""
        m = self._estimate.market
        edges = price_bins(m.column("low"), m.column("high"), 1)
        start, end = m.index[0].value / 1e6, (m.index[-1] + m.timeframe).value / 1e6
        return start, end, float(edges[0]), float(edges[-1])

    def _window(self, view, extent):
        """Time range, price range and resolution of the heat grid for the visible ``view``."""
        if view is None or not self._sharpen:
            return None, None, self._resolution
        xs, xe, ys, ye = view
        t0, t1, p0, p1 = extent
        if xe - xs >= 0.9 * (t1 - t0) and ye - ys >= 0.9 * (p1 - p0):
            return None, None, self._resolution
        ws, we = max(t0, xs - 0.25 * (xe - xs)), min(t1, xe + 0.25 * (xe - xs))
        ps, pe = max(ys - 0.25 * (ye - ys), 0.0), ye + 0.25 * (ye - ys)
        if not we > ws:  # looking at a time with no bars: keep the whole grid
            return None, None, self._resolution
        rx, ry = self._resolution
        width = int(np.clip(round(rx * (we - ws) / (xe - xs)), 16, 2 * rx))
        height = int(np.clip(round(ry * (pe - ps) / (ye - ys)), 16, 2 * ry))
        times = (utc(ws), utc(we))
        return times, (ps, pe), (width, height)

    @traitlets.validate("layers")
    def _check_layers(self, proposal) -> list[str]:
        unknown = sorted(set(proposal["value"]) - set(LAYERS))
        if unknown:
            raise traitlets.TraitError(f"unknown layer(s) {unknown}; choose from {list(LAYERS)}")
        return [name for name in LAYERS if name in proposal["value"]]

    @traitlets.validate("forecast_horizon")
    def _valid_horizon(self, proposal) -> str:
        value = str(proposal["value"]).strip()
        try:
            ok = pd.Timedelta(value) > pd.Timedelta(0)
        except ValueError:
            ok = False
        if not ok:
            raise traitlets.TraitError(
                f"forecast_horizon must be a positive time span such as '4h' or '1D', "
                f"got {proposal['value']!r}"
            )
        return value

    @traitlets.observe("forecast_horizon")
    def _on_horizon_change(self, change) -> None:
        if self._figure_data is not None:
            self._push()

    @traitlets.observe("x_range", "y_range")
    def _on_view_change(self, change) -> None:
        if self._sharpen and not self._pushing and self._figure_data is not None:
            self._push()

    def _cursor_after(self, old: FigureData | None, extent) -> float:
        """Cursor (epoch ms) after an update: it follows the end if it was there."""
        lo, hi = extent[0], extent[1]
        if self.cursor is None or old is None:
            return hi
        at = self.cursor.value / 1e6
        if at >= old.props["cursor-slider"]["end"] - 1.0:
            return hi
        return min(max(at, lo), hi)

    @anywidget.experimental.command
    def _bokehjs(self, request, _buffers) -> tuple[dict, list[bytes]]:
        """The widget command the front end invokes for BokehJS (see :mod:`.protocol`)."""
        return protocol.reply(request)

    def __repr__(self) -> str:
        return f"LiquidationMap({self._estimate!r}, {len(self._liqs):,} real liquidations)"
