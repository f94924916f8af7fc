"""The Debian repository central runs for ``update_agent``: a flat repository (``deb URL
./``) of every hall-agent package IT has released, made with Debian's own tools and served
over HTTP.

``dpkg-scanpackages`` writes ``Packages``; the ``Release`` file lists its hashes; with a
GnuPG key it is signed (``InRelease``, ``Release.gpg``) and nodes check it with
``signed-by=``. Every version stays in the repository, so a node can always go back to the
one it ran before. Any web server can serve the folder (nginx in production: docs/central.md);
``hall-agent central repo serve`` is Python's own HTTP server for a small site or a test.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import shutil
import subprocess
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

INDEX_FILES = ("Packages", "Packages.gz")


class RepoError(ConfigError):
    """The repository cannot be made: a tool is missing or refused a file."""

    code = "repo_error"


def _run(argv: Sequence[str], cwd: Path, what: str) -> str:
    if shutil.which(argv[0]) is None:
        raise RepoError(f"{argv[0]} is not installed (Debian package: {what})")
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RepoError(f"{' '.join(argv[:2])}: {done.stderr.strip()[-500:]}")
    return done.stdout


def package_fields(deb: Path) -> tuple[str, str]:
    """``(Package, Version)`` of a .deb, as dpkg-deb reads them."""
    out = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"], deb.parent, "dpkg")
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    if fields.get("Package") != "hall-agent" or "Version" not in fields:
        raise RepoError(f"{deb}: not a hall-agent package")
    return fields["Package"], fields["Version"]


def build_repo(repo: Path, debs: Sequence[Path], gpg_key: str | None = None) -> list[str]:
    """Add ``debs`` to the flat repository ``repo`` and write its index (signed with the
    GnuPG key id ``gpg_key`` if given); returns the versions it holds."""
    repo.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        package_fields(deb)  # refuses anything else before it is copied in
        shutil.copy2(deb, repo / deb.name)
    packages = _run(["dpkg-scanpackages", "--multiversion", "."], repo, "dpkg-dev")
    (repo / "Packages").write_text(packages)
    (repo / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
    release = repo / "Release"
    release.write_text(_release_text(repo))
    for signed in ("InRelease", "Release.gpg"):
        (repo / signed).unlink(missing_ok=True)
    if gpg_key is not None:
        gpg = ["gpg", "--batch", "--yes", "--local-user", gpg_key]
        _run([*gpg, "--clearsign", "--output", "InRelease", "Release"], repo, "gpg")
        _run([*gpg, "--detach-sign", "--armor", "--output", "Release.gpg", "Release"], repo, "gpg")
    return [
        line.split(": ", 1)[1] for line in packages.splitlines() if line.startswith("Version: ")
    ]


def _release_text(repo: Path) -> str:
    lines = [
        "Origin: hall-agent central",
        "Label: hall-agent",
        f"Date: {format_datetime(datetime.now(UTC), usegmt=True)}",
    ]
    for field, algorithm in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        lines.append(f"{field}:")
        for name in INDEX_FILES:
            data = (repo / name).read_bytes()
            lines.append(f" {algorithm(data).hexdigest()} {len(data)} {name}")
    return "\n".join(lines) + "\n"


class RepoServer:
    """The repository folder over HTTP (GET and HEAD only), on a thread of its own."""

    def __init__(self, repo: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = partial(_QuietHandler, directory=str(repo))
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> RepoServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="repo-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def send_head(self) -> Any:
        """Every file in full: the stdlib answers ``If-Modified-Since`` by whole seconds, so
        an index rebuilt within the second of a node's last fetch was "not modified" and apt
        kept the old one (the new version "not found")."""
        del self.headers["If-Modified-Since"]
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged (apt asks every few hours from every node)."""
