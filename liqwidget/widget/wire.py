"""FigureData on the wire: numpy arrays become raw binary buffers, not JSON number lists.

Each array column is sent as ``{"dtype", "shape", "nested", "data": bytes}``; ipywidgets
lifts the ``bytes`` out of the JSON message into binary websocket frames. ``nested`` marks a
column that Bokeh holds as a list of arrays (images, stored frames): the first axis is the
list. Short lists of strings travel as JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..figure import FigureData

#: dtypes BokehJS's ndarray understands; everything else is converted to the nearest one.
_WIRE_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}


def encode_array(a: np.ndarray, nested: bool = False) -> dict[str, Any]:
    a = np.asarray(a)
    if a.dtype.name not in _WIRE_DTYPES:
        a = a.astype("float64")
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.name, "shape": list(a.shape), "nested": nested, "data": a.tobytes()}


def encode_column(value) -> Any:
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return encode_array(np.stack(value), nested=True)
    if isinstance(value, list) and not value:
        return encode_array(np.zeros(0, dtype="float64"))
    return list(value)


#: Widget trait holding each named data source. One trait per source: traitlets only sends
#: traits whose value changed, so an update ships only the sources that differ.
SOURCE_TRAITS = {
    "clusters-source": "_clusters",
    "real-source": "_real",
    "price-source": "_price",
    "events-source": "_events",
    "levels-source": "_levels",
    "levels-frames": "_frames",
}


def encode_source(cols: dict[str, Any]) -> dict[str, Any]:
    """One data source's columns, arrays as binary."""
    return {col: encode_column(v) for col, v in cols.items()}


def encode(data: FigureData) -> dict[str, dict[str, Any]]:
    """Trait name → encoded source, for every source in ``data``."""
    return {SOURCE_TRAITS[name]: encode_source(cols) for name, cols in data.sources.items()}


def decode_array(spec: dict[str, Any]) -> np.ndarray | list[np.ndarray]:
    """Inverse of :func:`encode_array` (used by tests and for debugging)."""
    a = np.frombuffer(bytes(spec["data"]), dtype=spec["dtype"]).reshape(spec["shape"])
    return list(a) if spec["nested"] else a
