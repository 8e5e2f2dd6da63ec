"""One warm kaleido renderer per process: a headless Chromium started once and reused.

Plain ``fig.to_image()`` starts a browser for every image (4–6 s here). :class:`Renderer` keeps one
kaleido browser open on a private asyncio loop in a background thread, so an export costs only the
render. Renders are serialised by a lock (one tab, one figure at a time: concurrent requests queue
and never see each other's images). Each render has a timeout; when it runs out, or the browser
has died, the browser is killed and a new one started, so the next export works.

Chromium is the system's (Debian's ``/usr/bin/chromium``): ``BROWSER_PATH`` names another one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from explorer.export.sizes import FORMATS

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
START_TIMEOUT = 60.0
RELOAD_EVERY = 25        # renders between page reloads (kaleido reloads after every image)


def _warm_kaleido_class():
    """kaleido.Kaleido, but the tab's page is not reloaded after every image.

    kaleido reloads its page (and parses plotly.js again, ~0.3–0.6 s here) after each render. Each
    render draws into a fresh element and purges it, so with renders serialised the reload only
    guards against slow leaks: it is done every ``RELOAD_EVERY`` images and after every PDF (which
    restyles the page to print it). Should kaleido rename the hook, this falls back to its own
    behaviour (slower, still correct).
    """
    import kaleido

    class WarmKaleido(kaleido.Kaleido):
        reload_next = False
        since_reload = 0

        async def _return_kaleido_tab(self, tab):
            self.since_reload += 1
            if self.reload_next or self.since_reload >= RELOAD_EVERY:
                self.since_reload = 0
                self.reload_next = False
                return await super()._return_kaleido_tab(tab)
            await self.tabs_ready.put(tab)

    return WarmKaleido


class RenderError(RuntimeError):
    """An image could not be rendered (the message says why)."""


class RenderTimeout(RenderError):
    """A render took longer than the timeout; the renderer was restarted."""


def browser_path() -> str | None:
    """The Chromium to use: ``BROWSER_PATH``, else chromium on PATH (choreographer also looks)."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _children(pid: int, depth: int = 32) -> list[int]:
    """The descendants of ``pid`` (from /proc) down to ``depth`` generations, deepest last."""
    out: list[int] = []
    stack = [(pid, 0)]
    while stack:
        parent, level = stack.pop()
        if level >= depth:
            continue
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(p) for p in task.read_text().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            stack.extend((k, level + 1) for k in kids)
    return out


class Renderer:
    """A long-lived kaleido browser; ``render(fig, fmt, width, height, scale) -> bytes``."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, start_timeout: float = START_TIMEOUT):
        self.timeout = float(timeout)
        self.start_timeout = float(start_timeout)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self.starts = 0          # how many browsers this renderer has started (restarts + 1)
        self.renders = 0

    # ---------------------------------------------------------------------------------- lifecycle
    def _new_loop(self) -> None:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="export-renderer", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

    def _call(self, coro, timeout: float):
        """Run ``coro`` on the renderer's loop; FutureTimeout after ``timeout`` seconds, and
        RuntimeError at once if the loop's thread has stopped (it would never answer)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        thread = self._thread
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(min(0.5, max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                if time.monotonic() >= deadline:
                    future.cancel()
                    raise
                if thread is None or not thread.is_alive():
                    future.cancel()
                    raise RuntimeError("the renderer's event loop stopped") from None

    def _start_locked(self) -> None:
        if self._loop is None:
            self._new_loop()
        options = {"n": 1, "timeout": None, "mathjax": False}
        path = browser_path()
        if path:
            options["path"] = path

        async def open_browser():
            k = _warm_kaleido_class()(**options)
            await k.open()
            return k

        started = time.perf_counter()
        try:
            self._kaleido = self._call(open_browser(), self.start_timeout)
        except FutureTimeout:
            self._abandon_locked()
            raise RenderError(f"the image renderer (Chromium) did not start within {self.start_timeout:g} s") from None
        except Exception as exc:  # noqa: BLE001 - a missing browser is a message, not a traceback
            self._abandon_locked()
            raise RenderError(f"the image renderer (Chromium) could not start: {exc}") from None
        self.starts += 1
        log.info("export renderer started in %.1f s (pid %s)", time.perf_counter() - started, self.pid)

    @property
    def pid(self) -> int | None:
        proc = getattr(self._kaleido, "subprocess", None)
        return getattr(proc, "pid", None)

    def browser_pids(self) -> list[int]:
        """The browser's processes (the launcher and Chromium's own), for diagnostics and tests."""
        pid = self.pid
        return [pid, *_children(pid)] if pid else []

    def alive(self) -> bool:
        proc = getattr(self._kaleido, "subprocess", None)
        if proc is None or proc.poll() is not None:
            return False
        if self._thread is None or not self._thread.is_alive():   # the loop's thread was stopped
            return False
        # the launcher can outlive a killed Chromium: it must still have a child
        return bool(_children(proc.pid, depth=1))

    def _abandon_locked(self) -> None:
        """Kill the browser and drop the loop without waiting for either (they may be stuck)."""
        pids = self.browser_pids() if self._kaleido is not None else []
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc = getattr(self._kaleido, "subprocess", None)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        tmp = getattr(self._kaleido, "_html_tmp_dir", None)
        if tmp is not None:
            try:
                tmp.clean()
            except Exception:  # noqa: BLE001
                pass
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._kaleido = None
        self._loop = None
        self._thread = None

    def start(self) -> "Renderer":
        with self._lock:
            if self._kaleido is None or not self.alive():
                if self._kaleido is not None:
                    self._abandon_locked()
                self._start_locked()
        return self

    def close(self) -> None:
        with self._lock:
            if self._kaleido is None:
                return
            try:
                self._call(self._kaleido.close(), 10)
            except Exception:  # noqa: BLE001 - closing is best effort; kill what is left
                pass
            self._abandon_locked()

    # ---------------------------------------------------------------------------------- rendering
    def render(self, fig, fmt: str, width: int, height: int, scale: float = 1.0) -> bytes:
        """The figure as PNG, SVG or PDF bytes. Raises RenderTimeout or RenderError."""
        if fmt not in FORMATS:
            raise ValueError(f"unknown image format {fmt!r}; choose one of {', '.join(FORMATS)}")
        opts = {"format": fmt, "width": int(width), "height": int(height), "scale": float(scale)}
        spec = fig.to_dict() if hasattr(fig, "to_dict") else fig
        with self._lock:
            for attempt in (1, 2):
                if self._kaleido is None or not self.alive():
                    if self._kaleido is not None:
                        log.warning("export renderer found dead; restarting")
                        self._abandon_locked()
                    self._start_locked()
                # a PDF restyles the page to print it: reload after it (see _warm_kaleido_class)
                self._kaleido.reload_next = fmt == "pdf"
                try:
                    data = self._call(self._kaleido.calc_fig(spec, opts=opts), self.timeout)
                except FutureTimeout:
                    log.warning("export render timed out after %.0f s; restarting the renderer", self.timeout)
                    self._abandon_locked()
                    raise RenderTimeout(f"the image took longer than {self.timeout:g} s to render and was "
                                        "abandoned; the renderer has been restarted, try again") from None
                except Exception as exc:  # noqa: BLE001
                    if not self.alive():
                        self._abandon_locked()
                        if attempt == 1:
                            log.warning("export renderer died during a render (%s); retrying once", exc)
                            continue
                    raise RenderError(f"the image could not be rendered: {type(exc).__name__}: {exc}") from None
                self.renders += 1
                if not isinstance(data, (bytes, bytearray)):
                    raise RenderError(f"the renderer returned {type(data).__name__}, not an image")
                return bytes(data)
        raise RenderError("the image renderer failed twice")  # pragma: no cover


_SHARED: Renderer | None = None
_SHARED_LOCK = threading.Lock()


def shared_renderer(timeout: float | None = None) -> Renderer:
    """The process's renderer (created on first use; the browser starts on the first render)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Renderer(timeout=timeout or DEFAULT_TIMEOUT)
            import atexit
            atexit.register(_SHARED.close)
        elif timeout is not None:
            _SHARED.timeout = float(timeout)
        return _SHARED
