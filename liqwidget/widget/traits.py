"""Serialisation of the widget's user-facing traits: timestamps travel as epoch milliseconds."""

from __future__ import annotations

import pandas as pd
import traitlets

from ..times import epoch_ms as _ms
from ..times import utc


def to_timestamp(value) -> pd.Timestamp | None:
    """A UTC Timestamp by the rule of :mod:`liqwidget.times` (None stays None)."""
    return None if value is None else utc(value)


def time_to_json(value, _widget) -> float | None:
    return _ms(value)


def time_from_json(value, _widget) -> pd.Timestamp | None:
    return to_timestamp(value)


def range_to_json(value, _widget):
    return None if value is None else [_ms(value[0]), _ms(value[1])]


def range_from_json(value, _widget):
    return None if value is None else (to_timestamp(value[0]), to_timestamp(value[1]))


TIME = {"to_json": time_to_json, "from_json": time_from_json}
TIME_RANGE = {"to_json": range_to_json, "from_json": range_from_json}


class Timestamp(traitlets.TraitType):
    """A UTC ``pandas.Timestamp``; values follow :mod:`liqwidget.times` (a zone is required)."""

    info_text = "a UTC timestamp"

    def validate(self, obj, value):
        if value is None and self.allow_none:
            return None
        try:
            return to_timestamp(value)
        except ValueError as exc:
            raise traitlets.TraitError(f"{self.name}: {exc}") from None


class TimeRange(traitlets.TraitType):
    """A ``(start, end)`` pair of UTC Timestamps with start before end."""

    info_text = "a (start, end) pair of timestamps"

    def validate(self, obj, value):
        if value is None and self.allow_none:
            return None
        try:
            start, end = (to_timestamp(v) for v in value)
        except TypeError:
            self.error(obj, value)
        except ValueError as exc:
            raise traitlets.TraitError(f"{self.name}: {exc}") from None
        if not end > start:
            raise traitlets.TraitError(f"time range end {end} must be after start {start}")
        return (start, end)


class PriceRange(traitlets.TraitType):
    """A ``(low, high)`` pair of prices with low below high."""

    info_text = "a (low, high) pair of prices"

    def validate(self, obj, value):
        if value is None and self.allow_none:
            return None
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            self.error(obj, value)
        if not high > low:
            raise traitlets.TraitError(f"price range high {high} must be above low {low}")
        return (low, high)
