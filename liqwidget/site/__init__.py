"""The static site: snapshot posts with generated prose, embeddable maps, built with mkdocs."""

from .build import BuildResult, SiteOptions, build_site
from .numbers import KeyNumbers, key_numbers
from .schedule import snapshot_times

__all__ = [
    "BuildResult",
    "KeyNumbers",
    "SiteOptions",
    "build_site",
    "key_numbers",
    "snapshot_times",
]
