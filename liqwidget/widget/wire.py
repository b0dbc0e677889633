"""The widget's wire format, declared once: figure data sources as traits with their own codec.

A :class:`SourceTrait` holds the columns of one named Bokeh ``ColumnDataSource`` of the
figure (numpy arrays, lists of arrays, or short lists of strings) and carries its own
serialiser: every array column travels as ``{"dtype", "shape", "nested", "data": bytes}``,
and ipywidgets lifts the ``bytes`` out of the JSON message into binary websocket frames.
``nested`` marks a column that Bokeh holds as a list of arrays (images, stored frames): the
first axis is the list. The one JavaScript decoder of that codec is ``js/wire.js``.

The front end learns which trait fills which source, and the layer names of the toggle, from
the synced ``_wire`` trait (:func:`wire_spec`), so adding a data source is one trait
declaration on the widget and adding a layer is one entry in ``figure.callbacks.LAYERS``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import traitlets

#: dtypes BokehJS's ndarray understands; everything else is converted to the nearest one.
_WIRE_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}


# ------------------------------------------------------------------ the array codec
def encode_array(a: np.ndarray, nested: bool = False) -> dict[str, Any]:
    """One array as a JSON header plus a raw byte buffer (no copy for a contiguous array)."""
    a = np.asarray(a)
    if a.dtype.name not in _WIRE_DTYPES:
        a = a.astype("float64")
    a = np.ascontiguousarray(a)
    return {
        "dtype": a.dtype.name,
        "shape": list(a.shape),
        "nested": nested,
        "data": memoryview(a).cast("B"),
    }


def decode_array(spec: Mapping[str, Any]) -> np.ndarray | list[np.ndarray]:
    """Inverse of :func:`encode_array`."""
    a = np.frombuffer(bytes(spec["data"]), dtype=spec["dtype"]).reshape(spec["shape"])
    return list(a) if spec["nested"] else a


def encode_column(value) -> Any:
    """A column as the wire carries it: arrays (and lists of arrays) binary, text as JSON."""
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return encode_array(np.stack(value), nested=True)
    if isinstance(value, list) and not value:
        return encode_array(np.zeros(0, dtype="float64"))
    return list(value)


def decode_column(value) -> Any:
    """Inverse of :func:`encode_column`."""
    if isinstance(value, Mapping) and "dtype" in value:
        return decode_array(value)
    return list(value)


# ------------------------------------------------------------------ columns of one source
def _same_column(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return all(_same_column(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class Columns(Mapping):
    """The columns of one data source, read-only, equal to another by value.

    Equality by value lets traitlets see an unchanged source as unchanged, so an update
    sends only the sources whose numbers differ.
    """

    __slots__ = ("_cols",)

    def __init__(self, cols: Mapping[str, Any] | None = None):
        self._cols = dict(cols or {})

    def __getitem__(self, key: str) -> Any:
        return self._cols[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Mapping) or set(self) != set(other):
            return False
        return all(_same_column(self[k], other[k]) for k in self)

    __hash__ = None  # mutable contents (arrays): not hashable

    def __repr__(self) -> str:
        return f"Columns({', '.join(self._cols)})"


def source_to_json(value: Columns | None, _widget=None) -> dict[str, Any]:
    """A source's columns on the wire, arrays as binary buffers."""
    return {col: encode_column(v) for col, v in (value or {}).items()}


def source_from_json(value: Mapping[str, Any] | None, _widget=None) -> Columns:
    """Inverse of :func:`source_to_json`."""
    return Columns({col: decode_column(v) for col, v in (value or {}).items()})


#: The serialiser a :class:`SourceTrait` carries (ipywidgets' ``to_json``/``from_json``).
SOURCE_SERIALIZATION = {"to_json": source_to_json, "from_json": source_from_json}


class SourceTrait(traitlets.TraitType):
    """A synced trait holding the columns of the figure's data source named ``source``.

    It carries its own serialiser (binary arrays); declaring one on the widget is all it
    takes for the front end to fill that source (see :func:`wire_spec`).
    """

    info_text = "a mapping of column names to arrays"

    def __init__(self, source: str, **kwargs):
        super().__init__(Columns(), **kwargs)
        self.source = source
        self.tag(sync=True, source=source, **SOURCE_SERIALIZATION)

    def validate(self, obj, value) -> Columns:
        if isinstance(value, Columns):
            return value
        if not isinstance(value, Mapping):
            self.error(obj, value)
        for col, v in value.items():
            if not isinstance(col, str):
                raise traitlets.TraitError(
                    f"data source {self.source!r}: column names must be strings, got {col!r}"
                )
            if not isinstance(v, np.ndarray | list | tuple):
                raise traitlets.TraitError(
                    f"data source {self.source!r}: column {col!r} must be an array or a list, "
                    f"got {type(v).__name__}"
                )
        return Columns(value)


# ------------------------------------------------------------------ the map, for both sides
def source_traits(widget_cls: type[traitlets.HasTraits]) -> dict[str, str]:
    """Data source name → trait name, from the :class:`SourceTrait` declarations."""
    return {
        t.source: name
        for name, t in widget_cls.class_traits().items()
        if isinstance(t, SourceTrait)
    }


def wire_spec(widget_cls: type[traitlets.HasTraits], layers) -> dict[str, Any]:
    """What the front end needs to know about the wire: the ``_wire`` trait's value.

    ``sources`` maps trait name → data source name; ``layers`` are the layer toggle's names
    in the order of its checkboxes.
    """
    return {
        "sources": {trait: src for src, trait in source_traits(widget_cls).items()},
        "layers": list(layers),
    }


def assign(widget_cls: type[traitlets.HasTraits], sources: Mapping[str, Any]) -> dict[str, Any]:
    """Trait name → columns for every data source of a figure, checked both ways.

    A figure source with no trait, or a declared trait the figure does not fill, is a clear
    error here rather than a map that silently misses a layer.
    """
    traits = source_traits(widget_cls)
    missing = sorted(set(sources) - set(traits))
    if missing:
        raise ValueError(
            f"figure data source(s) {missing} have no widget trait; declare e.g. "
            f"`_name = SourceTrait({missing[0]!r})` on {widget_cls.__name__}"
        )
    unfilled = sorted(set(traits) - set(sources))
    if unfilled:
        raise ValueError(
            f"{widget_cls.__name__} declares source trait(s) for {unfilled}, "
            "which the figure data does not have"
        )
    return {traits[name]: cols for name, cols in sources.items()}
