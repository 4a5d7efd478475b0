"""``shipyard models serve|predict|build-docker``: deploy a model over REST, in batch, in Docker."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shipyard.cli._common import TrackingUri, console, handle_errors
from shipyard.errors import InvalidParameter
from shipyard.settings import Settings

ModelOption = typer.Option(
    ..., "--model-uri", "-m", help="A folder, runs:/..., models:/name/3 or models:/name@alias."
)
Trusted = typer.Option(False, "--trusted", help="The model's files may run code (pickle).")


@handle_errors
def serve(
    model_uri: str = ModelOption,
    host: str = typer.Option("127.0.0.1", "--host", "-h"),
    port: int = typer.Option(5001, "--port", "-p"),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    name: str | None = typer.Option(None, help="Model name to report (default: from the URI)."),
    tracking_uri: str | None = TrackingUri,
    trusted: bool = Trusted,
    poll_interval: float = typer.Option(30.0, help="Seconds between checks of a followed alias."),
    webhook_secret_file: Path | None = typer.Option(
        None, help="File holding the HMAC secret of registry webhooks (enables the endpoint)."
    ),
    inference_log: str | None = typer.Option(
        None, "--inference-log", help="Folder or s3:// URI of the inference log (default: none)."
    ),
    hash_column: list[str] = typer.Option(
        [], "--hash-column", help="Log this input column only as a salted hash (repeatable)."
    ),
    salt_file: Path | None = typer.Option(None, help="File holding the salt of hashed columns."),
    log_inputs: bool = typer.Option(True, help="Log input values (off: outputs only)."),
    aggregate_inputs: bool = typer.Option(
        False,
        help="Log no raw input value: inputs only as per-flush drift sketches on the model's "
        "reference profile (hashed columns stay hashes).",
    ),
    max_body_mb: float = typer.Option(64.0, help="Largest request body accepted (MiB)."),
    micro_batch: int = typer.Option(
        0, help="Merge up to N concurrent one-row requests into one predict (0: off)."
    ),
    micro_batch_wait_ms: float = typer.Option(2.0, help="Longest wait to fill a micro-batch."),
    model_threads: int = typer.Option(
        1, help="OpenMP/BLAS threads per worker (0: one per core); 1 is fastest for small requests."
    ),
) -> None:
    """Serve a model over REST: MLflow's /invocations, Open Inference Protocol v2, /metrics."""
    from shipyard.serving import ServingConfig, run_scoring_server

    config = ServingConfig(
        model_uri,
        name=name,
        tracking_uri=tracking_uri,
        trusted=trusted,
        poll_interval=poll_interval,
        webhook_secret=_read_secret(webhook_secret_file),
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        micro_batch_max_size=micro_batch,
        micro_batch_max_wait_ms=micro_batch_wait_ms,
        model_threads=model_threads,
        log_root=inference_log,
        log_inputs=log_inputs,
        log_input_aggregates=aggregate_inputs,
        log_hash_columns=tuple(hash_column),
        log_salt=_read_secret(salt_file) or "",
    )
    console.print(f"Serving {model_uri} on http://{host}:{port} ({workers} worker(s))")
    run_scoring_server(config, host=host, port=port, workers=workers)


@handle_errors
def predict(
    model_uri: str = ModelOption,
    input: Path | None = typer.Option(
        None, "--input", "-i", help="CSV or Parquet file, or a folder of them."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="A .parquet or .csv file, or a folder of parts."
    ),
    input_sql: str | None = typer.Option(None, help="SQL query to score (with --db-url)."),
    db_url: str | None = typer.Option(None, help="SQLAlchemy URL of the database."),
    output_table: str | None = typer.Option(None, help="Table to write the scores into."),
    workers: int = typer.Option(
        0,
        "--workers",
        "-w",
        help="Worker processes of one model thread each (0: one per core); 1: one process that "
        "reads and writes while the model predicts, with the model's own threads.",
    ),
    chunk_rows: int = typer.Option(250_000, help="Rows scored (and held in memory) per unit."),
    resume: bool = typer.Option(False, help="Keep the parts an interrupted run wrote."),
    keep_column: list[str] = typer.Option(
        [], "--keep-column", help="Copy this input column into the output (repeatable)."
    ),
    inference_log: str | None = typer.Option(None, help="Folder or s3:// URI of the log."),
    id_column: str | None = typer.Option(None, help="Input column used as the log's request id."),
    aggregate_inputs: bool = typer.Option(
        False, help="Log no raw input value: per-unit drift sketches on the reference profile."
    ),
    name: str | None = typer.Option(None, help="Model name for the log (default: from the URI)."),
    tracking_uri: str | None = TrackingUri,
    trusted: bool = Trusted,
) -> None:
    """Score files or a SQL query in batch, streamed in chunks, in parallel, resumably."""
    from shipyard.batch import predict as run_batch
    from shipyard.batch import predict_sql

    common = {
        "keep_columns": tuple(keep_column),
        "trusted": trusted,
        "tracking_uri": tracking_uri,
        "log_root": inference_log,
        "model_name": name,
        "id_column": id_column,
        "aggregate_inputs": aggregate_inputs,
    }
    with _progress() as progress:
        task = progress.add_task("scoring", total=None)

        def advance(rows: int) -> None:
            progress.update(task, advance=rows)

        if input_sql is not None:
            if not db_url or not output_table:
                raise InvalidParameter("--input-sql needs --db-url and --output-table")
            count = predict_sql(model_uri, db_url, input_sql, output_table,
                                chunk_rows=chunk_rows, on_unit=advance, **common)  # type: ignore[arg-type]  # fmt: skip
            console.print(f"Scored {count} rows into table {output_table}")
            return
        if input is None or output is None:
            raise InvalidParameter("Give --input and --output (or --input-sql)")

        def planned(units: int, rows: int) -> None:
            progress.update(task, total=rows or None)

        result = run_batch(model_uri, input, output, workers=workers, chunk_rows=chunk_rows,
                           resume=resume, on_plan=planned, on_unit=advance, **common)  # type: ignore[arg-type]  # fmt: skip
    console.print(
        f"Scored {result.rows} rows into {result.output} ({result.units} units, "
        f"skipped {result.skipped_units} already written, {result.processes} process(es))"
    )


@handle_errors
def build_docker(
    model_uri: str = ModelOption,
    image: str = typer.Option(..., "--name", "-n", help="Image name (for the instructions)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder for the build context (default: ./<image>-docker)."
    ),
    shipyard_spec: str | None = typer.Option(
        None, help="What pip installs for Shipyard in the image (default: this version)."
    ),
    tracking_uri: str | None = TrackingUri,
    trusted: bool = Trusted,
) -> None:
    """Write a Dockerfile and build context that serve the model (then: docker build)."""
    from shipyard.serving._docker import write_docker_context

    folder = output or Path(f"{image.replace('/', '-').replace(':', '-')}-docker")
    written = write_docker_context(model_uri, image, folder, settings=Settings.from_env(),
                                   tracking_uri=tracking_uri, shipyard_spec=shipyard_spec,
                                   trusted=trusted)  # fmt: skip
    console.print(f"Wrote {written}/Dockerfile; build it with: docker build -t {image} {written}")


def _read_secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        raise InvalidParameter(f"Cannot read {path}: {exc}") from None


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
