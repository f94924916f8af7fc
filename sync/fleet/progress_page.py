"""Central's small web server for citizens' phones: the slip link's progress page.

``GET <any path>?v=1&p=t&…`` (the slip's link, as ``ticket_link_base`` sends phones here)
answers a phone-sized page in Simplified Chinese with no external assets;
``GET /v1/progress?…`` the same as JSON; ``GET /v1/near-turn?cursor=…`` the feed of
``TicketNearTurn`` events for a city's SMS/WeChat service (sync/fleet/progress.py).
A link that is malformed, tampered with or of a hall central does not know gets a page that
says so, with a 4xx status. One thread serves, with one store connection of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sync.central import STORE_ERRORS
from sync.fleet.backend import CentralBackend
from sync.fleet.progress import Progress, ProgressRefused, near_turn_feed, ticket_progress

log = logging.getLogger(__name__)

#: How long one client may take to send its request.
REQUEST_TIMEOUT_S = 10

_STATES = {
    "waiting": "等候中",
    "called": "正在叫号",
    "serving": "正在办理",
    "done": "已办结",
    "no_show": "已过号",
    "transferred": "已转办",
    "cancelled": "已取消",
}
_REFUSED = {
    "malformed_link": "这不是有效的取号凭条链接。",
    "wrong_purpose": "这不是查询排队进度的链接。",
    "bad_signature": "该链接已被改动，无法核验，请扫描凭条上的二维码。",
    "unknown_hall": "暂未收到该大厅的数据，请稍后再试或咨询大厅工作人员。",
    "bad_cursor": "无效的请求。",
    "store_away": "服务暂时不可用，请稍后再试。",
    "not_found": "页面不存在。",
}
_STYLE = """
body{margin:0;font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
background:#eef3f9;color:#15253b}
header{background:#0b4f9c;color:#fff;padding:16px 20px;font-size:20px;font-weight:bold}
main{padding:20px}
.card{background:#fff;border-radius:16px;padding:20px;margin-bottom:16px;text-align:center}
.label{font-size:16px;color:#3b4b61}
.number{font-size:64px;font-weight:bold;color:#0b4f9c;line-height:1.1}
.state{font-size:26px;font-weight:bold;margin-top:8px}
.line{font-size:20px;margin-top:8px}
.go{font-size:30px;font-weight:bold;color:#c0392b;margin-top:8px}
.stale{background:#fff4d6;border:2px solid #e0a800;border-radius:12px;padding:12px;
font-size:17px;margin-bottom:16px}
.fresh{font-size:15px;color:#3b4b61;text-align:center}
.error{font-size:20px;text-align:center;padding:32px 8px}
"""


def render_progress(p: Progress) -> str:
    """The page for one ticket (the data is escaped; nothing outside the page is loaded)."""
    f = p.freshness
    rows = [f'<div class="label">您的号码</div><div class="number">{_e(p.number)}</div>']
    if p.expired:
        rows.append('<div class="line">这是往日的号码，今日已失效。</div>')
    elif not p.found:
        rows.append('<div class="line">暂未收到该号码的信息，请稍后刷新。</div>')
    else:
        rows.append(f'<div class="state">{_e(_STATES.get(p.state or "", p.state or ""))}</div>')
        if p.state == "waiting":
            rows.append(f'<div class="line">前面还有 <b>{p.people_ahead}</b> 人</div>')
        if p.window is not None:
            rows.append(f'<div class="go">请到 {p.window} 号窗口</div>')
    stale = ""
    if f.stale and not p.expired:
        since = _clock(f.last_event_at) or _clock(f.status_at)
        when = f"，以下信息截至 {since}" if since else ""
        stale = (
            f'<div class="stale">大厅网络暂时中断{when}，'
            "实际进度可能已有变化，请留意大厅叫号。</div>"
        )
    fresh = f"数据更新于 {_clock(f.last_event_at)}" if f.last_event_at else ""
    body = (
        f'{stale}<div class="card">{"".join(rows)}</div>'
        f'<div class="fresh">{_e(p.business_date)} · {_e(fresh)}</div>'
    )
    return _page("排队进度", body)


def render_refusal(code: str) -> str:
    return _page("排队进度", f'<div class="error">{_e(_REFUSED.get(code, code))}</div>')


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><header>{_e(title)}</header><main>{body}</main></body></html>"
    )


def _e(text: object) -> str:
    return html.escape(str(text))


def _clock(moment: str | None) -> str:
    """``HH:MM`` of an ISO time as written (the hall's own offset)."""
    if not moment:
        return ""
    try:
        return dt.datetime.fromisoformat(moment).strftime("%H:%M")
    except ValueError:
        return ""


class ProgressServer:
    """The pages and feeds over HTTP on ``host:port`` (port 0: a free one, :attr:`port`)."""

    def __init__(
        self,
        open_store: Callable[[], CentralBackend],
        host: str,
        port: int,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
    ) -> None:
        self._open_store = open_store
        self._store: CentralBackend | None = None
        self.today = today
        server = self

        class Handler(_Handler):
            owner = server

        self._http = HTTPServer((host, port), Handler)
        self.host, self.port = host, int(self._http.server_port)
        self._thread = threading.Thread(target=self._serve, name="progress-http", daemon=True)
        self._thread.start()
        log.info("progress pages on http://%s:%d/", host, self.port)

    def _serve(self) -> None:
        try:
            self._http.serve_forever()
        finally:
            if self._store is not None:
                self._store.close()

    def store(self) -> CentralBackend:
        """The serving thread's store connection (opened at the first request)."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def drop_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(*STORE_ERRORS):
                store.close()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    owner: ProgressServer
    timeout = REQUEST_TIMEOUT_S
    server_version = "hall-agent-central"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        try:
            if parts.path == "/v1/near-turn":
                cursor = parse_qs(parts.query).get("cursor", [""])[0]
                feed = near_turn_feed(self.owner.store(), cursor, self.owner.today())
                self._send(200, "application/json", json.dumps(feed, ensure_ascii=False))
                return
            link = "http://central" + self.path  # the link as the phone opened it
            if parts.path == "/v1/progress":
                progress = ticket_progress(self.owner.store(), link)
                self._send(200, "application/json", json.dumps(progress.as_json()))
                return
            if not parts.query:
                raise ProgressRefused(404, "not_found", "no such page")
            self._send(200, "text/html", render_progress(ticket_progress(self.owner.store(), link)))
        except STORE_ERRORS as exc:  # the store is away: say so, open it again next time
            log.warning("progress: store error: %s", exc)
            self.owner.drop_store()
            self._refuse(parts.path, ProgressRefused(503, "store_away", "try again shortly"))
        except ProgressRefused as exc:
            self._refuse(parts.path, exc)
        except Exception:  # a bug or a malformed stored event: an answer, not a dropped line
            log.exception("progress: cannot answer %s", parts.path)
            self._refuse(parts.path, ProgressRefused(500, "internal_error", "try again later"))

    def _refuse(self, path: str, exc: ProgressRefused) -> None:
        if path.startswith("/v1/"):
            body = json.dumps({"error": exc.code, "reason": exc.reason})
            self._send(exc.status, "application/json", body)
        else:
            self._send(exc.status, "text/html", render_refusal(exc.code))

    def _send(self, status: int, kind: str, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        # the page has no scripts, images or links to load: a browser loads nothing else
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: a link names a citizen's ticket."""
