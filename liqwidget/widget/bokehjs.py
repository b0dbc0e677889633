"""BokehJS sources shipped inside the installed ``bokeh`` package, for the widget's front end.

The browser asks for them once per page (a custom widget message) when the matching
version is not loaded yet, so the front end never fetches anything from the network and
always runs exactly the kernel's Bokeh version.
"""

from __future__ import annotations

from functools import cache

import bokeh
from bokeh.resources import Resources

#: BokehJS parts the figure needs: the core and the widgets (sliders, checkboxes).
COMPONENTS = ("bokeh", "bokeh-widgets")
REQUEST = "liqwidget:bokehjs-request"
REPLY = "liqwidget:bokehjs"


@cache
def bokehjs_sources() -> tuple[bytes, ...]:
    """The minified BokehJS files, in load order, as UTF-8 bytes."""
    res = Resources(mode="inline", components=list(COMPONENTS))
    return tuple(js.encode("utf-8") for js in res.js_raw if len(js) > 1000)


def reply() -> tuple[dict, list[bytes]]:
    """Content and binary buffers of the answer to a front end's request."""
    return {"type": REPLY, "version": bokeh.__version__}, list(bokehjs_sources())
