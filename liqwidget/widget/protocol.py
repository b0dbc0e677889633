"""The widget's one request/reply: the front end asks for BokehJS, the kernel answers with it.

It rides on anywidget's command protocol (``anywidget.experimental.command`` in Python,
``experimental.invoke`` in the ESM): the browser invokes :data:`COMMAND` once per page, when
the matching BokehJS version is not loaded yet, so the front end never fetches anything from
the network.
"""

from __future__ import annotations

from typing import Any

import bokeh

from ..figure.bokehjs import bundle_sources

#: Name of the widget command the front end invokes (a method of ``LiquidationMap``).
COMMAND = "_bokehjs"


def reply(request: Any = None) -> tuple[dict, list[bytes]]:
    """Content and binary buffers (the BokehJS bundles, in load order) of the answer."""
    return {"version": bokeh.__version__}, list(bundle_sources())
