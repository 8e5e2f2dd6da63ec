"""A real PostgreSQL server for the tests (Debian's ``postgresql`` package; ``./dev test`` installs it).

One server per test session: ``initdb`` in a temporary folder, listening on a free port on
127.0.0.1 with its unix socket in the same folder, stopped (and the folder removed) at the end.
Each test that asks for ``postgres_url`` gets a fresh, empty database on it.

``initdb`` refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` user (the package creates it) and the server runs as that user.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, else None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    for initdb in reversed(candidates):
        folder = Path(initdb).parent
        if (folder / "pg_ctl").is_file():
            return folder
    which = shutil.which("initdb")
    return Path(which).parent if which else None


class PostgresServer:
    """initdb + pg_ctl start on 127.0.0.1:<free port>; ``stop()`` ends it."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="explorer-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = "explorer"
        self._as: list[str] = []
        self._preexec = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            os.chmod(self.folder, 0o700)

            def demote() -> None:
                os.setgid(owner.pw_gid)
                os.setuid(owner.pw_uid)

            self._preexec = demote
        self._names = itertools.count(1)

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, preexec_fn=self._preexec, cwd=self.folder,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})

    def start(self) -> None:
        done = self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                         "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        done = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                         "-w", "-t", "60", "start", timeout=90)
        if done.returncode:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:] if (self.folder / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr or done.stdout}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its postgresql:// URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: these tests need Debian's postgresql package "
                    "(`./dev test` installs it when run as root; or apt-get install postgresql)")
    server = PostgresServer(bin_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A postgresql:// URL of a fresh, empty database on the session's server."""
    url = postgres_server.new_database()
    yield url
    from explorer import db
    from explorer.maps import shortlinks

    with shortlinks._stores_lock:
        shortlinks._stores.pop(url, None)
    db.close(url)                          # this process's pool for it: connections are not left open


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """Both backends in turn: '' (SQLite under EXPLORER_HOME) and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_url")
