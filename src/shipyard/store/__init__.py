"""Persistence behind small protocols."""

from shipyard.store._protocol import Page, RunQuery, TrackingStore

__all__ = ["Page", "RunQuery", "TrackingStore"]
