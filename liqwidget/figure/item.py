"""The figure as BokehJS embeds it: ``json_item`` plus the callbacks of its document.

BokehJS draws a slider's handle (``role="slider"``) with no accessible name, so a screen
reader announces an unnamed slider. A callback run when the document is ready names each
handle after its slider's title; in a map that fits its page, another aligns the heatmap's
frame with the levels panel's only while the panel is beside it (not wrapped under it). Document callbacks belong to a document, not to the
layout (which stays a plain layout that Bokeh's own ``show`` can put in a document of its
own), so they are attached here, for the moment of serialising, in the one function the
widget, the snapshot embeds and the live page use.
"""

from __future__ import annotations

from bokeh.document import Document
from bokeh.embed import json_item
from bokeh.models import CustomJS, Model
from bokeh.models.widgets.sliders import AbstractSlider

from . import callbacks as js

#: BokehJS's event once every view of the document is drawn.
READY = "document_ready"


def document_callbacks(layout: Model) -> list[CustomJS]:
    """The callbacks run when ``layout``'s document is ready (in a fixed order)."""
    callbacks = []
    sliders = sorted(
        layout.select({"type": AbstractSlider}), key=lambda s: (s.name or "", s.title or "")
    )
    if sliders:
        names = [s.title or s.name or "slider" for s in sliders]
        callbacks.append(js.callback("name_sliders", sliders=sliders, names=names))
    heat, panel = layout.select_one({"name": "map"}), layout.select_one({"name": "levels"})
    if heat is not None and panel is not None and heat.sizing_mode == "stretch_width":
        # A map that fits its page wraps the levels panel under the heatmap on a phone.
        callbacks.append(js.callback("align_frames", map=heat, levels=panel))
    return callbacks


def figure_item(layout: Model) -> dict:
    """``json_item(layout)`` with :func:`document_callbacks` in its document."""
    doc = Document()
    doc.add_root(layout)
    try:
        for cb in document_callbacks(layout):
            doc.js_on_event(READY, cb)
        return json_item(layout)
    finally:
        doc.remove_root(layout)
