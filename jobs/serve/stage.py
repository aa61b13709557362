"""``intentmine serve``: the explore-and-review web app (FastAPI, Jinja2, uvicorn).

Read-only over the published tables; the one write is a review decision, recorded
through :func:`jobs.review.actions.decide` into the same review log as the CLI.
Every page is rendered on the server by Jinja2 with autoescaping (titles, OCR text and
reasoning are user-controlled); pages carry no script at all (``script-src 'none'``).
A state change is a POST that must carry the CSRF token of the visitor's cookie
(double submit, compared in constant time) and, when the browser sends one, an
``Origin`` (else ``Referer``) of this very server. Photos are served by query id or
product rank only, from files inside the logs folder.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.errors import InputError
from jobs.common.storage import latest_run, previous_week
from jobs.registry import reviews
from jobs.registry import tools as reg
from jobs.replay.view import replay_view
from jobs.review.actions import decide
from jobs.serve import data as wd
from jobs.serve.review import cards, diffs

COOKIE = "intentmine_csrf"
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif"}
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


class Warehouse:
    """The root, the logs folder and the per-week data, rebuilt when a table gets a new run."""

    def __init__(self, root: Path, logs: Path | None, settings):
        self.root, self.logs, self.settings = Path(root), logs, settings
        self._cache: dict[str, tuple[tuple, wd.WeekData]] = {}
        self._lock = threading.Lock()

    def weeks(self) -> list[str]:
        return wd.weeks(self.root)

    def week(self, week: str | None) -> str:
        known = self.weeks()
        if not known:
            raise InputError(f"no published cluster tree under {self.root}: run the pipeline first")
        if week is None or week == "":
            return known[-1]
        if week not in known:
            raise InputError(f"week {week} has no published data (weeks: {', '.join(known)})")
        return week

    def registry(self) -> tuple[reg.ToolRegistry, reg.ToolRegistry]:
        """(the registry as published, the registry with pending review decisions applied)."""
        registry = reg.load(self.root)
        return registry, reg.effective(registry, reviews.read_all(self.root))

    def data(self, week: str) -> wd.WeekData:
        file = reg.path(self.root)
        stamp = tuple(latest_run(self.root, t, week) for t in wd.WEEK_TABLES) + (
            file.stat().st_mtime_ns if file.exists() else 0,)
        with self._lock:
            cached = self._cache.get(week)
            if cached is None or cached[0] != stamp:
                cfg = self.settings.tools
                cached = (stamp, wd.load_week(self.root, week, reg.load(self.root), cfg.include_other,
                                              cfg.confidence))
                self._cache[week] = cached
            return cached[1]

    def photo(self, week: str, uri: str | None) -> Path | None:
        """The file of a log image URI, only when it lies inside the logs folder and is an image."""
        logs = self.logs or wd.stats(self.root, week).get("logs")
        if not uri or not logs or "://" in uri or "://" in str(logs):
            return None
        base = Path(logs).resolve()
        path = (base / uri.lstrip("/")).resolve()
        if not path.is_relative_to(base) or path.suffix.lower() not in IMAGE_TYPES or not path.is_file():
            return None
        return path


def missing(value) -> bool:
    return value is None or value != value  # None or NaN


def pct(value) -> str:
    return "–" if missing(value) else f"{value:.1%}"


def create_app(root: Path, logs: Path | None = None, settings=None) -> FastAPI:
    """The app over ``root``; ``logs`` is where photos are read (default: the week's manifest)."""
    from jobs.common.settings import get_settings

    house = Warehouse(root, logs, settings or get_settings())
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(pct=pct, name=wd.node_name,
                       pp=lambda v: "–" if missing(v) else f"{v * 100:+.2f} pp")
    env.globals["qs"] = lambda **kw: urlencode({k: v for k, v in kw.items() if v is not None})
    app = FastAPI(title="intentmine", docs_url=None, redoc_url=None, openapi_url=None)

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        token = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
        html = env.get_template(name).render(csrf=token, weeks=house.weeks(), **context)
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if request.cookies.get(COOKIE) != token:
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError):
        return page(request, "message.html", 400, message=str(exc), week=None)

    @app.get("/")
    def home():
        return RedirectResponse("/explore", status_code=303)

    @app.get("/explore")
    def explore(request: Request, week: str | None = None):
        week = house.week(week)
        data = house.data(week)
        registry, _ = house.registry()
        points = data.points.to_dict("records") if data.points is not None else []
        tools = {k: reg.resolve(registry, k) for k in data.rows["node"].dropna().unique()}
        return page(request, "explore.html", week=week, tree=wd.tree(data), points=points, tools=tools,
                    stats=wd.stats(house.root, week), registry=registry, replay=replay_view(house.root, week))

    @app.get("/node")
    def node(request: Request, key: str, week: str | None = None):
        week = house.week(week)
        data = house.data(week)
        rows = wd.queries_of(data, key=key)
        if not len(rows):
            raise InputError(f"no cluster '{key}' in week {week}")
        registry, _ = house.registry()
        tool_id = reg.resolve(registry, key)
        return page(request, "queries.html", week=week, heading=wd.node_name(key), rows=rows.to_dict("records"),
                    tool=registry.tools.get(tool_id) if tool_id else None, key=key)

    @app.get("/tool")
    def tool(request: Request, id: str, week: str | None = None):
        week = house.week(week)
        registry, _ = house.registry()
        found = reg.find(registry, id)
        rows = wd.queries_of(house.data(week), tool_id=found.tool_id)
        return page(request, "queries.html", week=week, heading=f"tool #{found.index} {found.title}",
                    rows=rows.to_dict("records"), tool=found, key=None)

    @app.get("/search")
    def search(request: Request, q: str = "", week: str | None = None):
        week = house.week(week)
        rows = wd.queries_of(house.data(week), text=q.strip()) if q.strip() else None
        return page(request, "queries.html", week=week, heading=f"search: {q}", q=q,
                    rows=rows.to_dict("records") if rows is not None else [], tool=None, key=None)

    @app.get("/query")
    def query(request: Request, id: str, week: str | None = None):
        week = house.week(week)
        detail = wd.query_detail(house.data(week), id)
        if detail is None:
            raise InputError(f"no query '{id}' in week {week}")
        registry, _ = house.registry()
        return page(request, "query.html", week=week, d=detail, registry=registry)

    @app.get("/photo/query")
    def query_photo(id: str, week: str | None = None):
        week = house.week(week)
        detail = wd.query_detail(house.data(week), id)
        return _file(house.photo(week, detail and detail["image_uri"]))

    @app.get("/photo/product")
    def product_photo(id: str, rank: int, week: str | None = None):
        week = house.week(week)
        detail = wd.query_detail(house.data(week), id)
        product = next((p for p in (detail or {}).get("products", []) if p["rank"] == rank), None)
        return _file(house.photo(week, product and product["image_uri"]))

    @app.get("/trends")
    def trends(request: Request):
        shown, rows = wd.trends(house.root, house.weeks())
        summary = [{"week": w, **wd.stats(house.root, w)} for w in house.weeks()]
        return page(request, "trends.html", week=None, shown=shown, rows=rows, summary=summary)

    @app.get("/review")
    def review(request: Request, week: str | None = None, msg: str | None = None):
        week = house.week(week)
        data = house.data(week)
        registry, state = house.registry()
        before = previous_week(week)
        previous = house.data(before) if before in house.weeks() else None
        return page(request, "review.html", week=week, cards=cards(data, registry, state), msg=msg,
                    diffs=diffs(house.root, data, previous), state=state)

    @app.post("/review")
    def review_post(request: Request, csrf: str = Form(""), action: str = Form(""), tool: str = Form(""),
                    value: str = Form(""), reviewer: str = Form(""), reason: str = Form(""), week: str = Form("")):
        refused = cross_site(request, csrf)
        if refused:
            return page(request, "message.html", 403, message=refused, week=None)
        if action not in ("approve", "reject", "rename", "merge", "retire"):
            raise InputError(f"unknown review action '{action}'")
        week = house.week(week or None)
        decision = {"tool_id": tool.strip(), "action": action, "value": value.strip() or None,
                    "reviewer": reviewer.strip(), "reason": reason.strip() or None,
                    "ts": dt.datetime.now(dt.timezone.utc), "decision_id": None}
        if action == "rename" and not (value or "").strip():
            raise InputError(f"rename {tool}: the new title is empty")
        outcome = decide(house.root, decision, week)
        return RedirectResponse(f"/review?{urlencode({'week': week, 'msg': outcome})}", status_code=303)

    return app


def cross_site(request: Request, token: str) -> str | None:
    """Why a POST is refused (None when it comes from this app's own page)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not token or not hmac.compare_digest(cookie, token):
        return "refused: the form's security token does not match (reload the page and try again)"
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return "refused: cross-site request"
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin:
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" != f"{request.url.scheme}://{request.headers.get('host', '')}":
            return f"refused: request from another origin ({parts.scheme}://{parts.netloc})"
    return None


def _file(path: Path | None) -> Response:
    if path is None:
        return Response("no such photo", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type=IMAGE_TYPES[path.suffix.lower()], headers={"X-Content-Type-Options": "nosniff"})


def serve(root: Path, host: str = "127.0.0.1", port: int = 8750, logs: Path | None = None) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    if not Path(root).is_dir():
        raise InputError(f"--root {root}: no such folder")
    uvicorn.run(create_app(Path(root), logs), host=host, port=port, log_level="warning")
