"""Stopping a server started in its own process group (``start_new_session=True``): the
benchmarks' servers and the production tests' gunicorn, with its workers and their renderer."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM to the whole group, then SIGKILL if it has not ended within ``grace`` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
