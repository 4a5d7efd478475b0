"""Persistence behind small protocols."""

from shipyard.store._protocol import GuardedRunUpdates, Page, RunQuery, TrackingStore

__all__ = ["GuardedRunUpdates", "Page", "RunQuery", "TrackingStore"]
