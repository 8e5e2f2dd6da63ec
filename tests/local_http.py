"""The one local HTTP server of the tests: real sockets on 127.0.0.1 (a free port, a thread), for
code that downloads, harvests or fetches tiles. The machines here reach no internet, and the code
under test must still make real requests.

``LocalServer`` answers each path with the responses its test gives it (``add``), in turn, the
last one repeating; anything else is a 404. A response is ``(status, body)``, ``(status, headers,
body)`` or a callable that writes the answer itself through the request handler (slow bodies,
cut connections, answers that depend on the query). ``hits`` counts the requests per path,
``requests`` lists them in order (paths with their query strings). ``LocalServer(app)`` serves a
WSGI app instead (a Flask stand-in for an identity provider, say), on werkzeug's threaded server.

The fixture ``local_server`` (registered in tests/conftest.py) starts one for a test and stops it
after; a module may import it under the name its tests use (``from tests.local_http import
local_server as server``).
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union
from urllib.parse import urlsplit

import pytest

Response = Union[tuple, Callable[[BaseHTTPRequestHandler], None]]
ANY_PATH = "*"


class LocalServer:
    def __init__(self, app: Callable | None = None):
        self.routes: dict[str, list[Response]] = {}
        self.hits: Counter = Counter()
        self.requests: list[str] = []
        self._lock = threading.Lock()
        if app is not None:
            from werkzeug.serving import make_server

            self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        else:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
            self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    # -- scripting ---------------------------------------------------------------------------
    def add(self, path: str, *responses: Response) -> str:
        """Answer ``path`` (``*``: every path not added) with ``responses`` in turn; its URL."""
        self.routes[path] = list(responses)
        return self.url(path if path != ANY_PATH else "/")

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------------
    def _next(self, path: str) -> Response | None:
        with self._lock:
            self.hits[path] += 1
            self.requests.append(path)
            queue = (self.routes.get(path) or self.routes.get(urlsplit(path).path)
                     or self.routes.get(ANY_PATH))
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                response = server._next(self.path)
                if response is None:
                    response = (404, b"")
                if callable(response):
                    response(self)
                    return
                status, headers, body = response if len(response) == 3 else (response[0], {}, response[1])
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    if value is not None:      # None: leave the header out (no Content-Length)
                        self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):     # keep the test output free of access-log lines
                pass

        return Handler


@pytest.fixture
def local_server():
    """A :class:`LocalServer` for this test, stopped after it."""
    server = LocalServer()
    yield server
    server.close()
