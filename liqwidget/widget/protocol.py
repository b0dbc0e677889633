"""The widget's custom messages: the front end asks for BokehJS, the kernel answers with it.

The browser asks once per page, when the matching BokehJS version is not loaded yet, so the
front end never fetches anything from the network.
"""

from __future__ import annotations

import bokeh

from ..figure.bokehjs import bundle_sources

REQUEST = "liqwidget:bokehjs-request"
REPLY = "liqwidget:bokehjs"


def reply() -> tuple[dict, list[bytes]]:
    """Content and binary buffers of the answer to a front end's request."""
    return {"type": REPLY, "version": bokeh.__version__}, list(bundle_sources())
