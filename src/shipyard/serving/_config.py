"""Everything ``serve`` can be told, as one value object (picklable: each worker gets a copy)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServingConfig"]


@dataclass(frozen=True)
class ServingConfig:
    model_uri: str
    name: str | None = None  # reported model name (default: from the URI)
    tracking_uri: str | None = None  # where models:/ URIs and aliases are resolved
    trusted: bool = False  # the model's files may run code when loaded (pickle)
    poll_interval: float = 30.0  # seconds between alias checks
    webhook_secret: str | None = None  # HMAC key of registry webhooks; None disables them
    max_body_bytes: int = 64 * 1024 * 1024
    inline_rows: int = 256  # requests up to this many rows predict on the event loop
    # OpenMP/BLAS threads per worker; 1 keeps small requests fast (a pool of threads that sleep
    # between requests must be woken for each; on a busy machine that costs milliseconds).
    # 0 leaves the libraries' defaults (one thread per core).
    model_threads: int = 1
    micro_batch_max_size: int = 0  # 0: micro-batching off
    micro_batch_max_wait_ms: float = 2.0
    log_root: str | None = None  # inference log folder or s3:// URI; None: no log
    log_inputs: bool = True
    # inputs only as per-flush aggregates (drift sketches on the reference profile's grid)
    log_input_aggregates: bool = False
    log_hash_columns: tuple[str, ...] = ()
    log_salt: str = ""
    log_probabilities: bool = True
    log_max_queue_rows: int = 200_000
    log_flush_interval: float = 2.0
