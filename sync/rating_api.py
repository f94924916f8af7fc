"""The window's business system (受理系统) asks for a rating with its case number (办件编号).

A loopback HTTP interface on the window PC (node.yaml ``rating_api_port``; stdlib
``http.server`` on its own thread, bound to 127.0.0.1 only, so only programs on this PC
reach it). It turns a request into the core's ``RequestRating`` (through the hall LAN on a
window PC, in process on the hub or a village point's PC) and reads the result back:

    POST /ratings            {"window": 2, "case": "330102-2026-000123"}
        202 {"case": …, "state": "requested", "number": "B001", "asked": true|false}
    GET  /ratings/{case}     200 {"case": …, "state": "rated" | "requested", "level": 1..5,
                                  "reasons": [...], ...}   404 {"error": "unknown_case"}

Errors are JSON ``{"error": code, "message": text}``: 400 a malformed request, 403 a window
this PC does not serve, 409 the queue refused (``no_current_ticket``, ``already_rated``…),
503 the hub cannot be reached. docs/operator.md, "Ratings", has the full contract.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Collection
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from agent import commands as c
from agent.errors import HallError
from agent.ratings import CASE_PATTERN

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY = 4096
#: A client that stops sending mid-request is dropped after this long.
REQUEST_TIMEOUT_S = 10.0
_CASE = re.compile(CASE_PATTERN)

#: The status of a refusal from the core or the hub, by its code (else 409 Conflict).
_STATUS = {
    "hub_unreachable": HTTPStatus.SERVICE_UNAVAILABLE,
    "hub_busy": HTTPStatus.SERVICE_UNAVAILABLE,
    "forbidden": HTTPStatus.FORBIDDEN,
    "unknown_terminal": HTTPStatus.FORBIDDEN,
}

Execute = Callable[[c.Command], Any]
Read = Callable[..., Any]


class RatingApi:
    """The loopback endpoint of one PC; ``windows`` are the ones it may ask for."""

    def __init__(
        self, execute: Execute, read: Read, windows: Collection[int], port: int = 0
    ) -> None:
        self.execute, self.read, self.windows = execute, read, frozenset(windows)
        api = self

        class Handler(_Handler):
            owner = api

        self._server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rating-api", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> RatingApi:
        self._thread.start()
        log.info("rating interface for the business system on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ---- the two operations -------------------------------------------------------------
    def request(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict) or set(body) != {"window", "case"}:
            return _error(HTTPStatus.BAD_REQUEST, "bad_request", 'send {"window": N, "case": "…"}')
        window, case = body["window"], body["case"]
        if not isinstance(window, int) or isinstance(window, bool):
            return _error(HTTPStatus.BAD_REQUEST, "bad_request", "window is a number")
        if not isinstance(case, str) or not _CASE.fullmatch(case):
            return _error(
                HTTPStatus.BAD_REQUEST, "bad_case", "case is 1-64 letters, digits or _./:-"
            )
        if window not in self.windows:
            return _error(HTTPStatus.FORBIDDEN, "forbidden", f"this PC does not serve {window}")
        try:
            self.execute(c.RequestRating(window, case))
        except HallError as exc:
            return _error(_STATUS.get(exc.code, HTTPStatus.CONFLICT), exc.code, str(exc))
        except TimeoutError:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "hub_unreachable", "no answer in time")
        return HTTPStatus.ACCEPTED, self._read_case(case) or {"case": case, "state": "requested"}

    def result(self, case: str) -> tuple[int, dict[str, Any]]:
        if not _CASE.fullmatch(case):
            return _error(HTTPStatus.BAD_REQUEST, "bad_case", "not a case number")
        try:
            found = self._read_case(case)
        except (HallError, TimeoutError) as exc:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "hub_unreachable", str(exc))
        if found is None:
            return _error(HTTPStatus.NOT_FOUND, "unknown_case", f"no rating asked for {case}")
        return HTTPStatus.OK, found

    def _read_case(self, case: str) -> dict[str, Any] | None:
        found = self.read("rating_of_case", case=case)
        return None if found is None else dict(found)


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": code, "message": message}


class _Handler(BaseHTTPRequestHandler):
    owner: RatingApi
    timeout = REQUEST_TIMEOUT_S
    server_version = "hall-agent-rating"

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/ratings":
            self._send(*_error(HTTPStatus.NOT_FOUND, "not_found", "POST /ratings"))
            return
        if not self._from_this_pc():
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":  # a web page's form or text/plain post
            self._send(*_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "bad_request", "JSON only"))
            return
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._send(*_error(HTTPStatus.BAD_REQUEST, "bad_request", "a JSON body up to 4 KiB"))
            return
        try:
            body = json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            self._send(*_error(HTTPStatus.BAD_REQUEST, "bad_request", "the body is not JSON"))
            return
        except OSError:  # a body shorter than its Content-Length: the read timed out
            self._send(*_error(HTTPStatus.BAD_REQUEST, "bad_request", "the body is incomplete"))
            return
        self._send(*self.owner.request(body))

    def _from_this_pc(self) -> bool:
        """Only this PC's programs: a page in its browser names another host (DNS
        rebinding) or none the interface answers to; it is refused."""
        port = self.server.server_address[1]  # type: ignore[index]  # an (host, port) pair
        if self.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}"):
            return True
        self._send(*_error(HTTPStatus.FORBIDDEN, "forbidden", "Host: 127.0.0.1:<port> only"))
        return False

    def do_GET(self) -> None:
        if not self._from_this_pc():
            return
        prefix = "/ratings/"
        if not self.path.startswith(prefix):
            self._send(*_error(HTTPStatus.NOT_FOUND, "not_found", "GET /ratings/{case}"))
            return
        self._send(*self.owner.result(unquote(self.path[len(prefix) :])))

    def _send(self, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("rating api: " + format, *args)
