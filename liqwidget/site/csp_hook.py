"""mkdocs hook: every page of the build gets its Content-Security-Policy (see ``csp``).

It runs after the build, over every ``.html`` file in the output folder, so pages written
by mkdocs and pages copied into the build (embeds, anything added later) are treated alike.
"""

from __future__ import annotations

from pathlib import Path

from liqwidget.site.csp import apply_to_folder


def on_post_build(config, **kwargs) -> None:
    apply_to_folder(Path(config["site_dir"]))
