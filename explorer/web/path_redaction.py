"""The server's own folders never reach a client.

Messages about a file (a load that failed, a checksum that differs, a file missing from the local
data folder) name it by its absolute path, which is right in the server's log and on the command
line, but tells a stranger how the server's disk is laid out. ``Redactor`` rewrites, in what the
app answers over HTTP, every absolute path under the data folder (``EXPLORER_DATA_DIR``) or the
app's home (``EXPLORER_HOME``: store, cache, registry) as the path relative to it, and the folder
itself as "the local data folder" or "the app's store": ``/srv/data/boundaries/x.geojson`` becomes
``boundaries/x.geojson``. A substring scan for each folder's spellings, then, only in a body that
names one, one regular-expression pass (both linear in the body's length).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from flask import Response

SKIP_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
TEXT_TYPES = frozenset({"text/html", "text/plain", "text/csv", "application/json", "application/ld+json",
                        "application/geo+json"})


def _spellings(folder: Path | None) -> list[str]:
    if folder is None:
        return []
    out = []
    for path in (folder, folder.resolve() if folder.exists() else folder):
        text = str(path).rstrip(os.sep)
        if len(text) > 1 and text not in out:
            out.append(text)
    return sorted(out, key=len, reverse=True)   # the longest first: /a/b before /a


class Redactor:
    def __init__(self, data_dir: Path | None, home: Path | None):
        names: dict[bytes, bytes] = {}
        for folder, name in ((data_dir, "the local data folder"), (home, "the app's store")):
            for text in _spellings(folder):
                names.setdefault(text.encode("utf-8"), name.encode("utf-8"))
                names.setdefault(json.dumps(text)[1:-1].encode("ascii"), name.encode("utf-8"))
        self.names = names
        # the longest spelling first (a data folder inside the home); a folder is matched only
        # whole: not inside a longer path or a URL, and followed by a separator (then dropped with
        # it) or by a character no file name ends with
        alternatives = b"|".join(re.escape(p) for p in sorted(names, key=len, reverse=True))
        self.pattern = re.compile(rb"(?<![\w./\-])(" + alternatives + rb")(/|\\/|(?![\w\-]|\.\w))") if names else None

    def text(self, message: str) -> str:
        return self.bytes(message.encode("utf-8")).decode("utf-8")

    def bytes(self, body: bytes) -> bytes:
        # the regular expression tries every position of the body; a plain search for each
        # spelling (a fast substring scan) first leaves the bodies that name no folder alone
        if self.pattern is None or not any(name in body for name in self.names):
            return body
        return self.pattern.sub(lambda m: b"" if m.group(2) else self.names[m.group(1)], body)

    def response(self, path: str, response: Response) -> None:
        """Rewrite a response's body in place (not streams, files or pre-compressed bodies)."""
        if self.pattern is None or path.startswith(SKIP_PREFIXES) or response.mimetype not in TEXT_TYPES:
            return
        if response.is_streamed or response.direct_passthrough or "Content-Encoding" in response.headers:
            return
        body = response.get_data()
        tidy = self.bytes(body)
        if tidy != body:
            response.set_data(tidy)
