"""Logging for rule scripts: one log file per job (Snakemake's ``log:``) plus stderr."""

from __future__ import annotations

import logging
import os
import signal
import sys

from echobeat.errors import UserError


def setup_logging(
    log_path: str | os.PathLike[str] | None,
    name: str = "echobeat",
    append: bool = False,
    label: str = "",
    level: int = logging.INFO,
) -> logging.Logger:
    """Send the library's records of ``level`` and above to ``log_path`` (emptied first unless
    ``append``) and to stderr, each prefixed with ``label``; return the logger."""
    root = logging.getLogger("echobeat")
    root.setLevel(level)
    root.handlers.clear()
    fmt = logging.Formatter(f"%(asctime)s %(levelname)s {label}%(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        if not append:
            open(log_path, "w").close()
        # Always appending: the processes of a distributed job share the file, and each record
        # then lands at its end instead of over another process's.
        handlers.append(logging.FileHandler(log_path, mode="a", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)

    def log_uncaught(kind, value, traceback):
        if isinstance(value, UserError):
            # A problem of the input that its message fully explains: no traceback.
            root.error("%s", value)
            return
        # The job's log file then says why it failed, not only Snakemake's console.
        root.error("job failed: %s: %s", kind.__name__, value, exc_info=(kind, value, traceback))

    sys.excepthook = log_uncaught
    _exit_on_sigterm(root)
    return logging.getLogger(name)


def log_file() -> str | None:
    """The file the library's records go to (set by :func:`setup_logging`), if any."""
    for handler in logging.getLogger("echobeat").handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def _exit_on_sigterm(root: logging.Logger) -> None:
    """Turn SIGTERM (Snakemake stopping, SLURM at the time limit or preempting) into a normal exit.

    Python's default for SIGTERM ends the process on the spot; raising SystemExit instead runs the
    ``finally`` blocks, so half-written temporary files are removed and the log says what happened.
    Outputs are atomic either way: the last checkpoint is what a rerun resumes from.
    """

    def stop(signum, frame):
        root.warning("stopped by %s; a rerun resumes from the last checkpoint", signal.Signals(signum).name)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
