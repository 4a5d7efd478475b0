"""Tracking: the rules for experiments, runs and their data, in front of any store."""

from shipyard.tracking._required_tags import REQUIRED_TAGS_KEY
from shipyard.tracking._service import TrackingService

__all__ = ["REQUIRED_TAGS_KEY", "TrackingService"]
