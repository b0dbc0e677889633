"""LiquidationMap on the Python side: traits, binary wire format, in-place updates, BokehJS delivery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets
from ipywidgets.widgets.widget import _put_buffers, _remove_buffers

import liqwidget
from liqwidget.events import LiquidationDataError
from liqwidget.figure import decode_layer
from liqwidget.figure.callbacks import LAYERS
from liqwidget.widget import LiquidationMap, wire
from liqwidget.widget import protocol as bjs
from liqwidget.widget.map import BUNDLE
from liqwidget.widget.wire import decode_array, encode_array


@pytest.fixture(scope="module")
def small(sample):
    return sample.slice(None, sample.index[600])


@pytest.fixture(scope="module")
def events(small):
    rng = np.random.default_rng(3)
    n = 300
    bars = small.frame.iloc[rng.integers(0, len(small), n)]
    side = rng.choice(["long", "short"], n)
    return pd.DataFrame(
        {
            "time": bars.index + pd.Timedelta("90s"),
            "side": side,
            "price": np.where(side == "long", bars["low"], bars["high"]),
            "notional": rng.lognormal(9, 1, n),
            "exchange": "binanceusdm",
        }
    )


def widget(small, events=None, **kw) -> LiquidationMap:
    return LiquidationMap(small, events, width=700, height=360, cursor_steps=8, **kw)


def test_bundle_is_built_and_is_the_esm():
    assert BUNDLE.exists(), "run `npm ci && npm run build` (pip install -e . does it)"
    esm = str(LiquidationMap._esm)
    assert "export" in esm and f'"{bjs.COMMAND}"' in esm
    assert esm == BUNDLE.read_text()


def test_traits_start_from_the_data(small, events):
    w = widget(small, events)
    assert w.layers == ["clusters", "real", "price"]
    assert w.cursor == small.index[-1] + small.timeframe
    assert w.x_range == (small.index[0], small.index[-1] + small.timeframe)
    low, high = w.y_range
    assert low < small.frame["low"].min() and high > small.frame["high"].max()
    assert len(w.liquidations) == len(events)


def test_large_arrays_travel_as_binary_buffers(small, events):
    w = widget(small, events)
    state, _paths, buffers = _remove_buffers(w.get_state())
    heat = w.figure_data.sources["clusters-source"]["image"][0]
    assert heat.dtype == np.uint8 and heat.shape == (360, 700 - 230)
    # Every array went out as a buffer; the JSON part is small.
    assert sum(len(b) for b in buffers) >= 2 * heat.nbytes
    import json

    data_traits = ("_clusters", "_real", "_price", "_events", "_levels", "_frames")
    assert len(json.dumps({k: state[k] for k in data_traits})) < 20_000
    # The document skeleton carries no data arrays, only one-cell placeholders.
    assert len(json.dumps(state["_spec"])) < 200_000


def test_wire_round_trip_preserves_arrays():
    a = np.arange(12, dtype="uint16").reshape(3, 4)
    np.testing.assert_array_equal(decode_array(encode_array(a)), a)
    parts = decode_array(encode_array(a, nested=True))
    assert len(parts) == 3 and parts[1].tolist() == [4, 5, 6, 7]
    assert encode_array(np.arange(3))["dtype"] == "float64"  # int64 is not a BokehJS dtype


def test_source_trait_serialiser_round_trips_every_column_kind(small, events):
    w = widget(small, events)
    for name, cols in w.figure_data.sources.items():
        trait = wire.source_traits(LiquidationMap)[name]
        to_json = w.trait_metadata(trait, "to_json")
        from_json = w.trait_metadata(trait, "from_json")
        sent = to_json(getattr(w, trait), w)
        # What crosses the comm: JSON plus buffers; put back together on arrival.
        state, paths, buffers = _remove_buffers({trait: sent})
        assert all(isinstance(b, memoryview | bytes) for b in buffers)
        back = from_json(_put_back(state, paths, buffers)[trait], w)
        assert back == getattr(w, trait), name  # Columns compare by value
        for col, v in cols.items():
            if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
                assert len(back[col]) == len(v)
                for a, b in zip(back[col], v, strict=True):
                    np.testing.assert_array_equal(a, b)
            elif isinstance(v, np.ndarray):
                assert back[col].dtype == (v.dtype if v.dtype.name in wire._WIRE_DTYPES else "f8")
                np.testing.assert_array_equal(back[col], v)
            else:
                assert back[col] == list(v)


def _put_back(state, paths, buffers):
    _put_buffers(state, paths, [bytes(b) for b in buffers])
    return state


def test_columns_compare_by_value_so_unchanged_sources_stay_silent():
    a = wire.Columns({"x": np.arange(3.0), "names": ["a"]})
    assert a == wire.Columns({"x": np.arange(3.0), "names": ["a"]})
    assert a != wire.Columns({"x": np.arange(3.0) + 1, "names": ["a"]})
    assert a != wire.Columns({"x": np.arange(3, dtype="float32"), "names": ["a"]})
    assert a != wire.Columns({"x": np.arange(3.0)})


def test_forecast_horizon_redraws_the_forecast_layer(small):
    w = widget(small)
    assert "forecast" not in w.layers  # one toggle away, not on by default
    before = w._forecast["image"][0].copy()
    assert w._props["layer-toggle"]["labels"][-1] == "Forecast (next 4h)"
    seq = w._seq
    w.forecast_horizon = "1D"
    assert w._seq == seq + 1 and w.figure_data.horizon == "1D"
    assert w._props["layer-toggle"]["labels"][-1] == "Forecast (next 1D)"
    assert not np.array_equal(w._forecast["image"][0], before)  # reaches further out
    far = w.figure_data.forecast
    w.forecast_horizon = "15min"
    near = w.figure_data.forecast
    assert near.total.sum() < far.total.sum()
    with pytest.raises(traitlets.TraitError, match="forecast_horizon must be a positive"):
        w.forecast_horizon = "-1h"
    with pytest.raises(traitlets.TraitError, match="forecast_horizon must be a positive"):
        w.forecast_horizon = "soon"
    w.layers = ["forecast", "price"]
    assert w.layers == ["price", "forecast"]  # kept in display order


def test_source_trait_rejects_bad_columns(small):
    w = widget(small)
    with pytest.raises(traitlets.TraitError, match=r"'price-source': column 'close' must be"):
        w._price = {"close": 3.0}
    with pytest.raises(traitlets.TraitError):
        w._price = [1, 2]


def test_front_end_learns_sources_and_layers_from_the_wire_trait(small):
    w = widget(small)
    spec = w.get_state("_wire")["_wire"]
    assert spec["layers"] == list(LAYERS)
    assert spec["sources"] == {
        "_clusters": "clusters-source",
        "_real": "real-source",
        "_forecast": "forecast-source",
        "_price": "price-source",
        "_events": "events-source",
        "_levels": "levels-source",
        "_frames": "levels-frames",
        "_forecast_profile": "forecast-profile",
    }
    assert set(spec["sources"].values()) == set(w.figure_data.sources)
    # The built front end keeps no copy of the map or of the layer names.
    esm = BUNDLE.read_text()
    for name in [*spec["sources"].values(), *spec["layers"]]:
        assert f'"{name}"' not in esm, name


def test_a_new_source_is_one_trait_declaration(small):
    class WithOutlook(LiquidationMap):
        _outlook = wire.SourceTrait("outlook-source")

    spec = wire.wire_spec(WithOutlook, LAYERS)
    assert spec["sources"]["_outlook"] == "outlook-source"
    # The figure must fill every declared source, and every figure source needs a trait.
    with pytest.raises(ValueError, match=r"declares source trait\(s\) for \['outlook-source'\]"):
        WithOutlook(small, width=700, height=360, cursor_steps=4)
    sources = {"clusters-source": {}, "mystery-source": {}}
    with pytest.raises(ValueError, match=r"\['mystery-source'\] have no widget trait"):
        wire.assign(LiquidationMap, sources)


def test_heat_layer_decodes_to_true_notional_within_quantisation(small):
    w = widget(small)
    grid = w.figure_data.heatmap
    src = w.figure_data.sources["clusters-source"]
    long, short = decode_layer(src["image"][0], src["vmin"][0], src["vmax"][0])
    shown = grid.long >= src["vmin"][0]
    shown &= grid.long >= grid.short
    ratio = long[shown] / grid.long[shown]
    # 127 log steps over a 1000x range: each code is within half a step (~2.8 %).
    assert np.all(np.abs(np.log(ratio)) <= 0.5 * np.log(1000) / 126 + 1e-9)
    assert np.isclose(max(long.max(), short.max()), max(grid.long.max(), grid.short.max()))


def test_setting_params_updates_data_in_place(small):
    w = widget(small)
    spec, seq = w._spec, w._seq
    before = w.figure_data.heatmap.long.sum()
    sent = []
    w.send_state = lambda key=None: sent.append(set(key) if key else None)
    w.set_params(side_split=0.9)
    assert w._spec is spec  # same document, new data
    assert w._seq == seq + 1
    # One message, with the changed sources only: price and the real layer did not change.
    assert len(sent) == 1 and {"_clusters", "_frames", "_levels", "_seq"} <= sent[0]
    assert not sent[0] & {"_price", "_real", "_events", "_spec"}
    assert w.model.side_split == 0.9
    assert w.figure_data.heatmap.long.sum() > before


def test_new_leverage_tiers_rebuild_the_document(small):
    w = widget(small)
    spec = w._spec
    w.set_params(leverage={3: 0.5, 20: 0.5})
    assert w._spec is not spec
    assert w.figure_data.tiers == (3.0, 20.0)


def test_user_view_survives_a_data_update(small):
    w = widget(small)
    start, end = small.index[100], small.index[200]
    w.x_range = (start, end)
    w.y_range = (60_000.0, 61_000.0)
    w.cursor = small.index[150]
    w.update(small)
    assert w.x_range == (start, end) and w.y_range == (60_000.0, 61_000.0)
    assert "time-range" not in w._props and "price-range" not in w._props
    assert w.cursor == small.index[150]
    assert w._props["cursor-slider"]["value"] == small.index[150].value / 1e6


def test_reset_view_and_bad_ranges(small):
    w = widget(small)
    w.x_range = (small.index[100], small.index[200])
    w.update(small, reset_view=True)
    assert w.x_range[0] == small.index[0]
    with pytest.raises(traitlets.TraitError, match="must be after start"):
        w.x_range = (small.index[5], small.index[1])
    with pytest.raises(traitlets.TraitError, match="must be above low"):
        w.y_range = (2.0, 1.0)


def test_append_bars_extends_and_follows(sample, small):
    w = widget(small)
    end_before = w.x_range[1]
    more = sample.frame.iloc[601:700]
    w.append_bars(more)
    assert len(w.market) == len(small) + len(more)
    assert w.market.index[-1] == sample.index[699]
    assert w.cursor == sample.index[699] + sample.timeframe  # cursor followed the end
    assert w.x_range[1] > end_before


def test_append_bars_rejects_a_gap(sample, small):
    w = widget(small)
    with pytest.raises(liqwidget.MarketDataError, match="gap"):
        w.append_bars(sample.frame.iloc[700:710])


def test_append_liquidations_adds_and_validates(small, events):
    w = widget(small, events.iloc[:100])
    real_before = w.figure_data.realized.long.sum() + w.figure_data.realized.short.sum()
    w.append_liquidations(events.iloc[100:])
    assert len(w.liquidations) == len(events)
    real_after = w.figure_data.realized.long.sum() + w.figure_data.realized.short.sum()
    assert real_after > real_before
    with pytest.raises(LiquidationDataError, match="column 'side'"):
        w.append_liquidations(events.assign(side="sell"))
    assert len(w.liquidations) == len(events)  # a bad batch changes nothing


def test_accepts_estimate_simulation_or_nothing(small):
    est = liqwidget.ClusterModel(side_split=0.5).estimate(small)
    w = LiquidationMap(est, width=700, height=360, cursor_steps=4)
    assert w.estimate is est and w.model.side_split == 0.5

    class Sim:
        market = small
        liquidations = None

    assert LiquidationMap(Sim(), width=700, height=360, cursor_steps=4).market is small
    with pytest.raises(TypeError, match="ClusterEstimate, MarketData"):
        LiquidationMap(42)


def test_bokehjs_reply_is_the_installed_version():
    import bokeh

    content, buffers = bjs.reply()
    assert content == {"version": bokeh.__version__}
    assert len(buffers) == 2
    assert f'"{bokeh.__version__}"' in buffers[0].decode()
    assert b"register_plugin" in buffers[1]


def test_widget_answers_the_bokehjs_request(small):
    """The front end's request goes through anywidget's command protocol and gets BokehJS."""
    w = widget(small)
    sent = []
    w.send = lambda content, buffers=None: sent.append((content, buffers))
    request = {"kind": "anywidget-command", "id": "42", "name": bjs.COMMAND, "msg": {}}
    w._handle_custom_msg(request, [])
    w._handle_custom_msg({"type": "something-else"}, [])
    assert len(sent) == 1
    content, buffers = sent[0]
    assert content["id"] == "42" and content["kind"] == "anywidget-command-response"
    assert content["response"] == bjs.reply()[0] and len(buffers) == 2


def test_zoom_sharpens_the_heat_layers_for_the_visible_window(small):
    w = widget(small)
    full = w.figure_data.heatmap
    start, end = small.index[200], small.index[260]
    w.x_range = (start, end)
    grid = w.figure_data.heatmap
    span = end - start
    # The grid now covers the visible window plus a quarter each side, at display resolution.
    assert grid.time_edges[0] == start - span / 4 and grid.time_edges[-1] == end + span / 4
    assert grid.width == round(full.width * 1.5)
    col_full = (full.time_edges[1] - full.time_edges[0]) / pd.Timedelta("1s")
    col_zoom = (grid.time_edges[1] - grid.time_edges[0]) / pd.Timedelta("1s")
    assert col_zoom < col_full / 5
    # The cursor still spans the whole data, and the view was not reset.
    props = w._props
    assert props["cursor-slider"]["start"] == small.index[0].value / 1e6
    assert "time-range" not in props and w.x_range == (start, end)
    # Zooming out to (nearly) everything returns to the whole grid.
    w.x_range = (small.index[0], small.index[-1] + small.timeframe)
    w.y_range = (full.price_edges[0], full.price_edges[-1])
    assert w.figure_data.heatmap.time_edges.equals(full.time_edges)


def test_sharpen_off_keeps_one_grid(small):
    w = widget(small, sharpen=False)
    edges = w.figure_data.heatmap.time_edges
    w.x_range = (small.index[200], small.index[260])
    assert w.figure_data.heatmap.time_edges.equals(edges)


def test_layers_are_checked_and_kept_in_display_order(small):
    w = widget(small)
    w.layers = ["price", "clusters"]
    assert w.layers == ["clusters", "price"]
    with pytest.raises(traitlets.TraitError, match=r"unknown layer\(s\) \['heat'\]"):
        w.layers = ["heat"]
