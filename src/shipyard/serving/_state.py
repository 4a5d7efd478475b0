"""The scoring server's moving parts, built once per worker: model, follower, log, metrics."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shipyard.errors import ShipyardError
from shipyard.inference_log import InferenceLogWriter, InputAggregator
from shipyard.models import PyFuncModel
from shipyard.serving._batcher import MicroBatcher
from shipyard.serving._config import ServingConfig
from shipyard.serving._follow import AliasFollower, ModelHolder
from shipyard.serving._metrics import ServingMetrics
from shipyard.serving._source import (
    Loader,
    RegistryResolver,
    Resolver,
    Served,
    load_served,
    parse_model_uri,
)

__all__ = ["ServingState", "build_state", "default_loader"]

_log = logging.getLogger("shipyard.serving")


@dataclass
class ServingState:
    config: ServingConfig
    holder: ModelHolder
    metrics: ServingMetrics
    follower: AliasFollower | None
    writer: InferenceLogWriter | None
    batcher: MicroBatcher | None
    executor: ThreadPoolExecutor  # large requests and large micro-batches predict here


def default_loader(config: ServingConfig) -> Loader:
    from shipyard.pyfunc import load_model

    def load(uri: str) -> PyFuncModel:
        return load_model(uri, config.trusted, tracking_uri=config.tracking_uri)

    return load


def limit_threads(threads: int) -> None:
    """Cap the OpenMP/BLAS pools of every library loaded so far (a new model may load more)."""
    if threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)


def _input_profiler(config: ServingConfig, holder: ModelHolder) -> InputAggregator:
    """Input summaries on the reference profile of the version that answered; the served
    model must have one (a version swapped in without one logs no input summaries)."""
    from shipyard.monitoring import InputProfiler, Reference, load_reference

    served = holder.current
    references: dict[str, Reference | None] = {
        served.version: load_reference(served.uri, tracking_uri=config.tracking_uri)
    }  # raises InvalidModel, naming the missing profile, before the server listens

    def remember(old: Served, new: Served) -> None:
        try:
            references[new.version] = load_reference(new.uri, tracking_uri=config.tracking_uri)
        except ShipyardError as exc:
            _log.warning(
                "version %s: no input summaries in the inference log: %s", new.version, exc
            )
            references[new.version] = None

    holder.on_swap.append(remember)
    return InputProfiler(lambda model, version: references.get(version))


def build_state(
    config: ServingConfig,
    resolver: Resolver | None = None,
    loader: Loader | None = None,
    writer: InferenceLogWriter | None = None,
) -> ServingState:
    """Load the model now (a bad URI fails here, before the server listens)."""
    loader = loader or default_loader(config)
    ref = parse_model_uri(config.model_uri, config.name)
    follower = None
    if ref.alias is not None:
        resolver = resolver or RegistryResolver(config.tracking_uri)
        version, uri = resolver.resolve(ref.name, ref.alias)
        served = load_served(ref.name, version, uri, loader)
    else:
        served = load_served(ref.name, ref.version or "", ref.uri, loader)
    holder = ModelHolder(served)
    limit_threads(config.model_threads)
    holder.on_swap.append(lambda old, new: limit_threads(config.model_threads))
    metrics = ServingMetrics()
    metrics.serving(served.name, served.version)
    holder.on_swap.append(
        lambda old, new: metrics.serving(new.name, new.version, (old.name, old.version))
    )
    if ref.alias is not None:
        assert resolver is not None
        follower = AliasFollower(holder, ref, resolver, loader, config.poll_interval)
        metrics.add_counter(
            "shipyard_serving_model_swaps", "Alias moves served.", lambda: follower.swaps
        )
        metrics.add_counter(
            "shipyard_serving_model_load_failures",
            "New versions that failed to load (not swapped in).",
            lambda: follower.load_failures,
        )
    if writer is None and config.log_root:
        writer = InferenceLogWriter(
            config.log_root,
            max_queue_rows=config.log_max_queue_rows,
            flush_interval=config.log_flush_interval,
            log_inputs=config.log_inputs,
            hash_columns=config.log_hash_columns,
            salt=config.log_salt,
            input_aggregator=_input_profiler(config, holder)
            if config.log_input_aggregates
            else None,
        )
    if writer is not None:
        log = writer
        metrics.add_counter(
            "shipyard_inference_log_dropped_records",
            "Predicted rows not logged because the log could not keep up.",
            lambda: log.dropped,
        )
        metrics.add_counter(
            "shipyard_inference_log_written_records",
            "Rows written to the log.",
            lambda: log.written,
        )
    # OpenMP thread limits are per calling thread: each executor thread sets its own
    executor = ThreadPoolExecutor(
        max(1, os.cpu_count() or 1),
        "predict",
        initializer=limit_threads,
        initargs=(config.model_threads,),
    )
    batcher = None
    if config.micro_batch_max_size > 1:
        batcher = MicroBatcher(
            config.micro_batch_max_size,
            config.micro_batch_max_wait_ms / 1000,
            metrics.micro_batch.observe,
            executor,
            config.inline_rows,
        )
    return ServingState(config, holder, metrics, follower, writer, batcher, executor)
