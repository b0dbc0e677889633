"""The head of liqwidget's standalone HTML pages (the snapshot and live map embeds), and
the script that fits the iframes showing them to their content (``frame_height.js``)."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import bokeh

from .escape import html_attr, html_text

#: Where the frame-height script is served, relative to the site root: beside the map pages,
#: under a name that never changes, since embed snippets pasted elsewhere point at it.
FRAME_SCRIPT = "embed/frame-height.js"
_FRAME_SOURCE = Path(__file__).resolve().parent / "frame_height.js"


def write_frame_script(root: Path) -> str:
    """Copy the frame-height script into a site folder; return its site-relative path."""
    dest = Path(root) / FRAME_SCRIPT
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_FRAME_SOURCE, dest)
    return FRAME_SCRIPT


def standalone_head(title: str, description: str, extra: str) -> str:
    """Doctype and ``<head>`` of a standalone map page; ``extra`` is markup the page adds
    (its stylesheet and scripts), written and escaped by the caller.

    Every map page sends its height to the page around its iframe (:data:`FRAME_SCRIPT`, in
    the same folder as the map pages).
    """
    frame_script = PurePosixPath(FRAME_SCRIPT).name
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="liqwidget, bokeh {bokeh.__version__}">
<meta name="description" content="{html_attr(description)}">
<title>{html_text(title)}</title>
<link rel="icon" href="data:,">
<script src="{html_attr(frame_script)}" defer></script>
{extra}
</head>"""
