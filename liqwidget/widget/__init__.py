"""The notebook widget: ``LiquidationMap`` (traits in ``map``, wire format in ``wire``,
BokehJS delivery in ``protocol``, front end in the repository's ``js/``)."""

from .map import LiquidationMap

__all__ = ["LiquidationMap"]
