"""mkdocs hook: accessible names Material's templates leave out.

Material renders its search overlay as ``role="dialog"`` without a name, which screen
readers announce as an anonymous dialog; the hook names it after its input.
"""

from __future__ import annotations

SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog"'


def on_post_page(output: str, page, config) -> str:
    """Name Material's search dialog (once per page; pages without it are left alone)."""
    return output.replace(SEARCH_DIALOG, SEARCH_DIALOG + ' aria-label="Search this site"', 1)
