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


def encode(data: FigureData, seq: int, props: dict | None = None) -> dict[str, Any]:
    """The ``_data`` message of the widget: every source's columns plus model properties."""
    sources = {
        name: {col: encode_column(v) for col, v in cols.items()}
        for name, cols in data.sources.items()
    }
    return {"seq": seq, "sources": sources, "props": data.props if props is None else props}


def decode_array(spec: dict[str, Any]) -> np.ndarray | list[np.ndarray]:
    """Inverse of :func:`encode_array` (used by tests and for debugging)."""
    a = np.frombuffer(bytes(spec["data"]), dtype=spec["dtype"]).reshape(spec["shape"])
    return list(a) if spec["nested"] else a
