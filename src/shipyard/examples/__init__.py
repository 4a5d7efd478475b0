"""Runnable examples that log real work into a tracking server."""
