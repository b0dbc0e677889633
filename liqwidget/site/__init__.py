"""The static site: snapshot posts with generated prose, embeddable maps, built with mkdocs."""

from .build import BuildResult, SiteOptions, build_site
from .numbers import KeyNumbers, key_numbers
from .schedule import snapshot_times
from .source import SiteData, load_source

__all__ = [
    "BuildResult",
    "KeyNumbers",
    "SiteData",
    "SiteOptions",
    "build_site",
    "key_numbers",
    "load_source",
    "snapshot_times",
]
