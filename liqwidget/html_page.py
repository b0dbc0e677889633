"""The head of liqwidget's standalone HTML pages (the snapshot and live map embeds)."""

from __future__ import annotations

import bokeh

from .escape import html_attr, html_text


def standalone_head(title: str, description: str, extra: str) -> str:
    """Doctype and ``<head>`` of a standalone map page; ``extra`` is markup the page adds
    (its stylesheet and scripts), written and escaped by the caller."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="liqwidget, bokeh {bokeh.__version__}">
<meta name="description" content="{html_attr(description)}">
<title>{html_text(title)}</title>
<link rel="icon" href="data:,">
{extra}
</head>"""
