"""Persistence behind small protocols."""

from shipyard.store._protocol import GuardedRunUpdates, LoopIO, Page, RunQuery, TrackingStore

__all__ = ["GuardedRunUpdates", "LoopIO", "Page", "RunQuery", "TrackingStore"]
