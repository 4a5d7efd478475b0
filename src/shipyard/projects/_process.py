"""Running a project's command: its output copied live to the terminal and into a log file,
Ctrl-C and SIGTERM passed on to it, and its exit turned into (exit code, killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

__all__ = ["Output", "stream"]


class Output(Protocol):
    def write(self, text: str, /) -> Any: ...
    def flush(self) -> Any: ...


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A CI runner cancels a job with SIGTERM: treat it like Ctrl-C (the run ends KILLED)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stream(
    cmd: list[str], cwd: Path, env: dict[str, str], out: Output, log: Path
) -> tuple[int, bool]:
    """Run ``cmd``, copying its output live to ``out`` and into ``log``: (exit code, killed).

    Ctrl-C (or SIGTERM) at any moment is passed on to the command, which is then waited for; if
    this process itself fails, the command is stopped rather than left running.
    """
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        with log.open("wb") as saved, _sigterm_as_interrupt():
            killed = _copy(proc, proc.stdout.fileno(), saved, out)
            code, interrupted = _wait(proc)
    finally:
        if proc.poll() is None:
            _interrupt(proc)
        proc.stdout.close()
    killed = killed or interrupted
    if code < 0 and -code in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        killed = True
    return (128 - code if code < 0 else code), killed


def _copy(proc: subprocess.Popen[bytes], fd: int, saved: BinaryIO, out: Output) -> bool:
    """Copy until the command closes its output; True if it was interrupted meanwhile."""
    killed = False
    while True:
        try:
            chunk = os.read(fd, 65536)
            if not chunk:
                return killed
            saved.write(chunk)
            out.write(chunk.decode(errors="replace"))
            out.flush()
        except KeyboardInterrupt:
            killed = True
            _interrupt(proc)


def _wait(proc: subprocess.Popen[bytes]) -> tuple[int, bool]:
    try:
        return proc.wait(), False
    except KeyboardInterrupt:
        _interrupt(proc)
        return proc.wait(), True


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    """Pass Ctrl-C on to the command's process group; SIGKILL if it has not stopped in 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
