"""The one Bokeh layout of a liquidation map, used by the widget, the site and embeds.

Every model that browser code (the widget, tests) must find has a stable ``name``; see
:data:`NAMES`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from bokeh.layouts import column, row
from bokeh.models import (
    CheckboxGroup,
    ColumnDataSource,
    DataRange1d,
    Div,
    HoverTool,
    LinearAxis,
    LinearColorMapper,
    NumeralTickFormatter,
    Range1d,
    Select,
    Slider,
    Span,
)
from bokeh.plotting import figure

from ..estimate import ClusterEstimate
from ..forecast import DEFAULT_HORIZON
from ..times import utc
from . import callbacks as js
from .data import DEFAULT_RESOLUTION, FigureData, bar_column_names, figure_data
from .palettes import (
    BACKGROUND,
    CLUSTER_LONG,
    CLUSTER_SHORT,
    FORECAST_LONG,
    FORECAST_SHORT,
    MARKER_COLORS,
    REAL_LONG,
    REAL_SHORT,
    bar_colors,
    ramp,
    threshold_palette,
)

#: Stable names of the models browser code looks up with ``document.get_model_by_name``.
NAMES = (
    "liqwidget-map",
    "map",
    "levels",
    "clusters-source",
    "real-source",
    "forecast-source",
    "price-source",
    "events-source",
    "levels-source",
    "levels-frames",
    "forecast-profile",
    "forecast-profile-long",
    "forecast-profile-short",
    "clusters-image",
    "real-image",
    "forecast-image",
    "events-markers",
    "price-band",
    "price-line",
    "clusters-mapper",
    "real-mapper",
    "forecast-mapper",
    "layer-toggle",
    "threshold",
    "cursor-slider",
    "cursor-span",
    "notes",
    "time-range",
    "price-range",
    "tier-filter",
    "levels-shown",
    "cumulative-source",
    "cumulative-long",
    "cumulative-short",
)

LEVEL_PANEL_WIDTH = 230
#: In a layout that fits its frame, the narrowest the heatmap (and the legend under it) gets
#: beside the levels panel; on a narrower screen the panel wraps below the heatmap.
MIN_MAP_WIDTH = 400
#: The layers drawn as heat images, each with its own colour mapper.
HEAT_LAYERS = ("clusters", "real", "forecast")


def build_figure(
    estimate: ClusterEstimate,
    liquidations: pd.DataFrame | None = None,
    *,
    width: int = 1000,
    height: int = 480,
    resolution: tuple[int, int] = DEFAULT_RESOLUTION,
    threshold: float = 0.4,
    layers: Iterable[str] = js.DEFAULT_LAYERS,
    price_range: tuple[float, float] | None = None,
    time_range: tuple | None = None,
    cursor_steps: int = 96,
    max_markers: int = 400,
    title: str | None = None,
    forecast_horizon: str = DEFAULT_HORIZON,
    fit: bool = False,
):
    """The liquidation map of ``estimate`` (and real ``liquidations``) as a Bokeh layout.

    ``resolution`` is the heat grid in (time columns, price rows); page weight grows with
    it (about 2 bytes per cell as base64 in a standalone page). ``cursor_steps`` is how many
    moments the levels panel can show without a kernel. The Forecast layer (hidden unless
    ``layers`` names it) shows the liquidations expected over ``forecast_horizon``. ``fit``
    makes the layout as wide as its page up to ``width`` (see :func:`layout_from`).
    """
    data = figure_data(
        estimate,
        liquidations,
        resolution=resolution,
        price_range=price_range,
        time_range=time_range,
        cursor_steps=cursor_steps,
        max_markers=max_markers,
        forecast_horizon=forecast_horizon,
    )
    return layout_from(
        data, width=width, height=height, threshold=threshold, layers=layers, title=title, fit=fit
    )


def layout_from(
    data: FigureData,
    *,
    width: int = 1000,
    height: int = 480,
    threshold: float = 0.4,
    layers: Iterable[str] = js.DEFAULT_LAYERS,
    title: str | None = None,
    fit: bool = False,
):
    """Build the layout from prepared :class:`FigureData` (the widget sends data separately).

    The layout is ``width`` pixels wide; with ``fit`` it is as wide as the element it is
    embedded in, up to ``width`` (the pages of the site, phones included): the heatmap
    narrows, and below :data:`MIN_MAP_WIDTH` the levels panel and the tier filter wrap under
    the heatmap and its legend.
    """
    layers = set(layers)
    unknown = layers - set(js.LAYERS)
    if unknown:
        raise ValueError(f"unknown layer(s) {sorted(unknown)}; choose from {list(js.LAYERS)}")
    props = data.props
    src = {name: ColumnDataSource(dict(cols), name=name) for name, cols in data.sources.items()}
    x_range = Range1d(name="time-range", **props["time-range"])
    y_range = Range1d(name="price-range", **props["price-range"])

    fig = figure(
        name="map",
        **_width(width - LEVEL_PANEL_WIDTH, fit, beside=True),
        height=height,
        x_range=x_range,
        y_range=y_range,
        x_axis_type="datetime",
        tools="xpan,pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        active_drag="pan",
        # A plot title does not wrap: on a page the map may be phone-wide, so keep it short.
        title=title
        or (
            "Liquidation map"
            if fit
            else "Liquidation map — clusters (estimate) and real liquidations"
        ),
        background_fill_color=BACKGROUND,
        border_fill_color="#ffffff",
    )
    fig.grid.grid_line_alpha = 0.12
    fig.yaxis.formatter = NumeralTickFormatter(format="$0,0")
    fig.yaxis.axis_label = "Price"
    fig.xaxis.axis_label = "Time (UTC)"

    ramps = {
        "clusters": (ramp(CLUSTER_LONG), ramp(CLUSTER_SHORT)),
        "real": (ramp(REAL_LONG, alpha=(0.55, 1.0)), ramp(REAL_SHORT, alpha=(0.55, 1.0))),
        "forecast": (ramp(FORECAST_LONG), ramp(FORECAST_SHORT)),
    }
    mappers, images = {}, {}
    for layer in HEAT_LAYERS:
        mappers[layer] = LinearColorMapper(
            name=f"{layer}-mapper",
            palette=threshold_palette(*ramps[layer], threshold),
            low=0,
            high=255,
        )
        images[layer] = fig.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=src[f"{layer}-source"],
            color_mapper=mappers[layer],
            name=f"{layer}-image",
            visible=layer in layers,
        )
        label = {"clusters": "Estimate", "real": "Real", "forecast": "Expected"}[layer]
        fig.add_tools(
            HoverTool(
                renderers=[images[layer]],
                tooltips=[
                    ("Time", "$x{%F %H:%M}"),
                    ("Price", "$y{$0,0}"),
                    (label, "@image{custom}"),
                ],
                formatters={
                    "$x": "datetime",
                    "@image": js.hover("hover_layer", source=src[f"{layer}-source"]),
                },
                description=f"Hover: {layer}",
            )
        )

    band = fig.varea(
        x="time",
        y1="low",
        y2="high",
        source=src["price-source"],
        fill_color="#ffffff",
        fill_alpha=0.22,
        name="price-band",
        visible="price" in layers,
    )
    line = fig.line(
        x="time",
        y="close",
        source=src["price-source"],
        line_color="#f8fafc",
        line_width=1.4,
        name="price-line",
        visible="price" in layers,
    )
    markers = fig.scatter(
        x="time",
        y="price",
        size="size",
        source=src["events-source"],
        fill_color={
            "field": "short",
            "transform": LinearColorMapper(palette=list(MARKER_COLORS), low=0, high=1),
        },
        fill_alpha=0.6,
        line_color="#ffffff",
        line_alpha=0.5,
        line_width=0.5,
        name="events-markers",
        visible="real" in layers,
    )
    fig.add_tools(
        HoverTool(
            renderers=[markers],
            tooltips=[
                ("Liquidated", "@short{custom}"),
                ("Time", "@time{%F %H:%M:%S}"),
                ("Price", "@price{$0,0.0}"),
                ("Notional", "@notional{$0,0}"),
                ("Exchange", "@exchange"),
            ],
            formatters={"@time": "datetime", "@short": js.hover("hover_side")},
            description="Hover: real events",
        )
    )
    cursor = props["cursor-slider"]
    span = Span(
        name="cursor-span",
        location=cursor["value"],
        dimension="height",
        line_color="#facc15",
        line_width=1.5,
        line_dash="dashed",
    )
    fig.add_layout(span)

    panel, tier_filter, profile = _levels_panel(data, src, y_range, height, fit, layers)

    toggle = CheckboxGroup(
        name="layer-toggle",
        labels=list(props["layer-toggle"]["labels"]),
        active=[i for i, name in enumerate(js.LAYERS) if name in layers],
        inline=True,
        # On a narrow page the labels wrap rather than run past its edge.
        stylesheets=[".bk-input-group.bk-inline { flex-wrap: wrap; }"] if fit else [],
    )
    renderers = {"clusters": [images["clusters"]], "real": [images["real"], markers]}
    renderers |= {"price": [band, line], "forecast": [images["forecast"], *profile]}
    toggle.js_on_change(
        "active", js.callback("toggle_layers", layers=[renderers[name] for name in js.LAYERS])
    )
    thresh = Slider(
        name="threshold",
        title="Contrast threshold (hide the faintest share)",
        start=0.0,
        end=0.95,
        step=0.01,
        value=float(threshold),
        width=260,
    )
    thresh_cb = js.callback(
        "threshold",
        mappers=[mappers[layer] for layer in HEAT_LAYERS],
        ramps=[list(ramps[layer]) for layer in HEAT_LAYERS],
    )
    thresh.js_on_change("value", thresh_cb)

    slider = Slider(
        name="cursor-slider",
        title="Time cursor",
        format=js.tick_formatter("cursor_format"),
        width=max(width - LEVEL_PANEL_WIDTH - 560, 240),
        **cursor,
    )
    cursor_cb = js.callback(
        "cursor",
        span=span,
        frames=src["levels-frames"],
        bars=src["levels-source"],
        names=bar_column_names(_bar_columns(data)),
        panel=panel,
        forecast=src["forecast-profile"],
    )
    slider.js_on_change("value", cursor_cb)
    fig.js_on_event("tap", js.callback("tap_to_cursor", slider=slider))

    notes = Div(name="notes", text=props["notes"]["text"], **_width(width, fit))
    notes.styles = {**notes.styles, "font-size": "12px"}
    legend = Div(text=_legend_html())
    legend.update(**_width(width - LEVEL_PANEL_WIDTH, fit, beside=True, margin=legend.margin))
    # Wider than the map (a narrow figure, long toggle labels), the controls wrap onto a
    # second line instead of sticking out past the map's right edge.
    controls = row(toggle, thresh, slider, **_width(width, fit, wrap=True))
    # The tier filter sits under the levels panel it filters.
    maps = row(fig, panel, **_width(None, fit, wrap=fit))
    keys = row(legend, tier_filter, **_width(None, fit, wrap=fit))
    size = {"sizing_mode": "stretch_width", "max_width": width} if fit else {}
    return column(controls, maps, keys, notes, name="liqwidget-map", **size)


def _width(
    width: int | None,
    fit: bool,
    *,
    beside: bool = False,
    panel: bool = False,
    wrap: bool = False,
    margin: int = 0,
) -> dict:
    """Width keywords of a model: ``width`` pixels, or with ``fit`` the width of its row
    (``beside`` the levels panel: at least :data:`MIN_MAP_WIDTH` while the row has room;
    ``margin`` is the model's own, which that minimum leaves room for). The levels ``panel``
    with ``fit`` is ``width`` pixels beside the heatmap and, on a row too narrow for both,
    the whole row under it. ``wrap`` lets a row's children wrap onto more lines."""
    styles = {"flex-wrap": "wrap"} if wrap else {}
    if not fit:
        size = {"width": width} if width is not None else {}
    else:
        size = {"sizing_mode": "stretch_width"}
        if beside:
            styles["min-width"] = f"min({MIN_MAP_WIDTH}px, 100% - {2 * margin}px)"
        if panel:
            # CSS has no "if": (room - 100%) times a huge factor is negative on a row with
            # room for both (the panel keeps `width`) and larger than any row without (the
            # panel takes the whole row, so it wraps onto a line of its own and fills it).
            room = MIN_MAP_WIDTH + width
            styles["flex"] = f"0 0 {width}px"
            styles["min-width"] = f"min(100%, max({width}px, ({room}px - 100%) * 100000))"
    return size | ({"styles": styles} if styles else {})


def _bar_columns(data: FigureData) -> list[tuple[str, float]]:
    return [(side, lev) for side in ("long", "short") for lev in data.tiers]


def _levels_panel(data: FigureData, src: dict, y_range, height: int, fit: bool, layers):
    """The levels panel at the cursor: bars per side and tier, the cumulative curves with
    the tier filter, and the Forecast profile (lines on the bars' axis, shown with the
    Forecast layer). Returns the panel, the filter and the profile's renderers."""
    cols = _bar_columns(data)
    names = bar_column_names(cols)
    bars = data.sources["levels-source"]
    step = float(np.median(np.diff(bars["price"]))) if len(bars["price"]) > 1 else 1.0
    panel = figure(
        name="levels",
        **_width(LEVEL_PANEL_WIDTH, fit, panel=True),
        height=height,
        y_range=y_range,
        x_range=DataRange1d(start=0, only_visible=True),
        tools="",
        toolbar_location=None,
        title=_levels_title(data.sources["levels-frames"]["time"]),
        background_fill_color=BACKGROUND,
    )
    n = len(data.tiers)
    colors = bar_colors("long", n) + bar_colors("short", n)
    # The bars draw the tiers the tier filter shows (``levels-shown``, filled by CUMULATE
    # from ``levels-source``, which the cursor and the widget write).
    shown = ColumnDataSource(dict(bars), name="levels-shown")
    renderers = panel.hbar_stack(
        names, y="price", height=step * 0.95, color=colors, source=shown, name=names
    )
    for r, (side, lev) in zip(renderers, cols, strict=True):
        r.name = f"levels-{side}-{lev:g}"
    # Each side's line (through the bands' centres) over a dark casing, so it reads over
    # bars of any colour.
    profile = [
        panel.line(
            x=side,
            y="price",
            source=src["forecast-profile"],
            line_width=width,
            line_color=BACKGROUND if casing else color,
            line_alpha=0.85 if casing else 1.0,
            name=f"forecast-profile-{side}" + ("-casing" if casing else ""),
            visible="forecast" in layers,
        )
        for side, color in (("long", FORECAST_LONG[2]), ("short", FORECAST_SHORT[2]))
        for casing, width in ((True, 4.5), (False, 2.0))
    ]
    # The bars' own axis, shared with the forecast profile (same unit: notional per band);
    # the cumulative curves have theirs.
    panel.x_range.renderers = [*renderers, *profile]
    panel.add_tools(
        HoverTool(
            renderers=profile[1::2],
            mode="hline",
            tooltips=[
                ("Price", "@price{$0,0}"),
                ("Expected over the horizon: long", "@long{$0.00a}"),
                ("short", "@short{$0.00a}"),
            ],
            description="Hover: forecast profile",
        )
    )
    panel.add_tools(
        HoverTool(
            renderers=renderers,
            tooltips=[("Price", "@price{$0,0}"), ("Tier", "$name"), ("Notional", "@$name{$0.00a}")],
        )
    )
    panel.yaxis.visible = False
    panel.xaxis.formatter = NumeralTickFormatter(format="$0.[0]a")
    panel.xaxis.ticker.desired_num_ticks = 3
    panel.xaxis.axis_label = "Estimated notional (by side, leverage)"
    panel.grid.grid_line_alpha = 0.12
    return panel, _cumulative(data, src, shown, panel, cols), profile


def tier_options(tiers) -> list[tuple[str, str]]:
    """The leverage-tier filter's choices: every tier and the ones above it."""
    return [("0", "All leverage tiers")] + [(f"{t:g}", f"{t:g}x and above") for t in tiers[1:]]


def cumulative(bars: dict, cols, min_leverage: float = 0.0) -> dict[str, np.ndarray]:
    """Cumulative curves of the levels panel (the browser's ``CUMULATE`` does the same):
    long notional summed from the top of the panel down, short from the bottom up."""
    keep = [(s, lev) for s, lev in cols if lev >= min_leverage]
    names = bar_column_names(keep)
    sides = np.array([s == "long" for s, _ in keep], dtype=bool)
    n = len(bars["price"])
    vals = np.stack([np.asarray(bars[k], "float64") for k in names], 1) if names else None
    long = vals[:, sides].sum(1) if vals is not None else np.zeros(n)
    short = vals[:, ~sides].sum(1) if vals is not None else np.zeros(n)
    return {
        "price": np.asarray(bars["price"]),
        "long": np.cumsum(long[::-1])[::-1],
        "short": np.cumsum(short),
    }


def _cumulative(data: FigureData, src: dict, shown, panel, cols) -> Select:
    """Cumulative long/short curves on their own top axis, and the leverage-tier filter."""
    cum = ColumnDataSource(
        cumulative(data.sources["levels-source"], cols), name="cumulative-source"
    )
    panel.extra_x_ranges = {"cumulative": DataRange1d(start=0)}
    lines = []
    for side, color in (("long", CLUSTER_LONG[2]), ("short", CLUSTER_SHORT[2])):
        lines.append(
            panel.line(
                x=side,
                y="price",
                source=cum,
                x_range_name="cumulative",
                line_width=2,
                line_color=color,
                name=f"cumulative-{side}",
            )
        )
    panel.extra_x_ranges["cumulative"].renderers = lines
    axis = LinearAxis(
        x_range_name="cumulative",
        axis_label="Cumulative (lines)",
        formatter=NumeralTickFormatter(format="$0.[0]a"),
    )
    axis.ticker.desired_num_ticks = 3
    panel.add_layout(axis, "above")
    panel.add_tools(
        HoverTool(
            renderers=lines,
            mode="hline",
            tooltips=[
                ("Price", "@price{$0,0}"),
                ("Cumulative long below", "@long{$0.00a}"),
                ("Cumulative short above", "@short{$0.00a}"),
            ],
        )
    )
    tier_filter = Select(
        name="tier-filter",
        title="Leverage shown",
        value="0",
        options=tier_options(data.tiers),
        width=LEVEL_PANEL_WIDTH - 10,
    )
    cb = js.callback(
        "cumulate",
        filter=tier_filter,
        bars=src["levels-source"],
        cum=cum,
        names=bar_column_names(cols),
        levs=[float(lev) for _, lev in cols],
        sides=[0 if s == "long" else 1 for s, _ in cols],
        shown=shown,
    )
    tier_filter.js_on_change("value", cb)
    src["levels-source"].js_on_change("data", cb)
    return tier_filter


def _levels_title(frame_times) -> str:
    """Title of the levels panel for the last stored frame (the cursor callback renews it)."""
    if len(frame_times) == 0:
        return "Levels at the cursor"
    when = utc(float(frame_times[-1]))
    return f"Levels at {when:%m-%d %H:%M} UTC"


def _legend_html() -> str:
    def sw(color: str, text: str, round_: bool = False) -> str:
        radius = "50%" if round_ else "2px"
        box = (
            f"display:inline-block;width:11px;height:11px;background:{color};"
            f"border-radius:{radius};margin:0 4px 0 12px;vertical-align:middle"
        )
        return f'<span style="{box}"></span>{text}'

    return (
        '<div style="font-size:12px">'
        + sw(CLUSTER_LONG[2], "estimated long levels (below price)")
        + sw(CLUSTER_SHORT[2], "estimated short levels (above price)")
        + sw(MARKER_COLORS[0], "real long liquidations", True)
        + sw(MARKER_COLORS[1], "real short liquidations", True)
        + sw(FORECAST_LONG[2], "forecast: long")
        + sw(FORECAST_SHORT[2], "and short liquidations expected over the horizon")
        + sw("#facc15", "time cursor — click the map to move it")
        + "</div>"
    )
