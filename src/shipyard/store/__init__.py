"""Persistence behind small protocols."""

from shipyard.store._protocol import Page, TrackingStore

__all__ = ["Page", "TrackingStore"]
