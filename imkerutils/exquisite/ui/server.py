"""The browser UI's HTTP API: a thin Starlette app over a :class:`~imkerutils.exquisite.ui.jobs.CanvasSession`.

Endpoints (JSON unless noted)::

    GET  /                                   the page (static/index.html)
    GET  /static/...                         the page's scripts, styles and the vendored OpenSeadragon
    GET  /api/state                          canvas, viewer frame, history, cost, generators, jobs
    POST /api/grow                           {"directions": [...], "steps", "prompt", "generator", "seed", "seam"}
    GET  /api/jobs/{id}                      one job's status, progress and plain-words error
    POST /api/undo, /api/redo                {"head": n} (optional: refused if the canvas moved on)
    GET  /api/tiles/{level}/{col}/{row}.png  one viewer tile (also .jpg for RGB canvases; a tile with
                                             never-written parts is an RGBA PNG, transparent there)
    GET  /api/steps/{n}/thumb.png            a thumbnail of what step n added
    POST /api/export                         {"format": "png"|"tiff", "region": {x, y, width, height}|null}
    GET  /api/exports/{id}                   one export's status and progress
    GET  /api/exports/{id}/file              the finished file (streamed; see ui/exports.py)
    POST /api/plan                           {"region": {x, y, width, height}} or {"directions", "by", "along"},
                                             "candidates", ...: the snapped region, tiles, calls, worst-case cost
    POST /api/generate                       the same body: stage N candidates of it (a job; nothing committed)
    POST /api/jobs/{id}/cancel               cancel a queued or running job (the running step writes nothing)
    GET  /api/staged                         the staged proposals (also in /api/state)
    GET  /api/staged/{id}/{k}.png            candidate k's new pixels over their bounding box (transparent elsewhere)
    POST /api/staged/{id}/accept             {"candidate": k}: commit it as one undoable step (a job)
    POST /api/staged/{id}/discard            drop the proposal (the canvas is not touched)
    POST /api/budget                         {"budget_usd": dollars or null}: the limit every later job must fit

No endpoint takes a path: the canvas is the one the server was started with.
State-changing requests must come from the page itself (see
:mod:`~imkerutils.exquisite.ui.security`).  Every slow call (pipeline,
canvas reads, image encoding) runs in a worker thread, so tiles keep being
served while a step is generated.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from imkerutils.errors import BadRequestError, BusyError, ExportBusyError, ImkerError, QueueFullError, TileNotFoundError
from imkerutils.exquisite.ui.deepzoom import TILE_FORMATS, blank_png, encode_tile
from imkerutils.exquisite.ui.exports import Exports, parse_export
from imkerutils.exquisite.ui.messages import PlainError, explain
from imkerutils.exquisite.ui.requests import (
    MAX_BODY_BYTES,
    decode_json,
    parse_accept,
    parse_budget,
    parse_generate,
    parse_grow,
    parse_undo,
)
from imkerutils.exquisite.ui.security import LOOPBACK_NAMES, GuardMiddleware, TokenMiddleware, is_same_origin

if TYPE_CHECKING:
    from imkerutils.exquisite.ui.jobs import CanvasSession

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
_JOB_ID = re.compile(r"[0-9a-f]{32}")
T = TypeVar("T")
_PROPOSAL_ID = re.compile(r"[0-9A-Za-z]{1,64}")
_IMMUTABLE = "private, max-age=31536000, immutable"

Handler = Callable[[Request], Awaitable[Response]]


class _HTTPProblem(Exception):
    def __init__(self, error: PlainError) -> None:
        super().__init__(error.detail)
        self.error = error


def _problem(exc: BaseException) -> PlainError:
    if isinstance(exc, _HTTPProblem):
        return exc.error
    if isinstance(exc, BadRequestError):
        return PlainError("bad_request", "The request is not valid", str(exc), 400)
    if isinstance(exc, TileNotFoundError):
        return PlainError("not_found", "No such tile", str(exc), 404)
    if isinstance(exc, QueueFullError):
        return PlainError("queue_full", "Too many growth jobs are waiting", str(exc), 429)
    if isinstance(exc, BusyError):
        return PlainError("busy", "The canvas is busy", str(exc), 409)
    if isinstance(exc, ExportBusyError):
        return PlainError("export_busy", "The export is not ready", str(exc), 409)
    return explain(exc)


def _fresh(data: Any, status: int = 200, location: str | None = None) -> JSONResponse:
    """Answer with JSON no cache may keep (state changes under it); a 202 names where to poll its job."""
    headers = {"cache-control": "no-store"}
    if location is not None:
        headers["location"] = location
    return JSONResponse(data, status_code=status, headers=headers)


def _error_response(error: PlainError) -> JSONResponse:
    return _fresh({"error": error.to_dict()}, error.status)


def _not_found(detail: str) -> JSONResponse:
    return _error_response(PlainError("not_found", "Not found", detail, 404))


def _by_job_id(request: Request, find: Callable[[str], T | None], what: str) -> T:
    """``find(job_id)`` for the request's ``job_id``; a 404 for a malformed id or one ``find`` does not know."""
    job_id = request.path_params["job_id"]
    found = find(job_id) if _JOB_ID.fullmatch(job_id) else None
    if found is None:
        raise _HTTPProblem(PlainError("not_found", "Not found", f"no {what} {job_id!r} on this server", 404))
    return found


def _guarded(handler: Handler) -> Handler:
    """Turn our errors into JSON error replies with a plain-words title."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except (ImkerError, _HTTPProblem) as exc:
            return _error_response(_problem(exc))

    return wrapped


async def _json_body(request: Request) -> dict[str, Any]:
    """Return the JSON object of a state-changing request from this server's own page (403/415/413/400 otherwise)."""
    if not is_same_origin(request.headers, request.url.scheme):
        raise _HTTPProblem(
            PlainError(
                "forbidden",
                "Request refused",
                "state-changing requests must come from this server's own page "
                "(the Origin header must match the server's address)",
                403,
            )
        )
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise _HTTPProblem(
            PlainError(
                "unsupported_media_type",
                "Request refused",
                f"the request body must be application/json, not {ctype or 'nothing'}",
                415,
            )
        )
    declared = request.headers.get("content-length")
    too_large = PlainError(
        "too_large", "Request refused", f"the request body is larger than {MAX_BODY_BYTES} bytes", 413
    )
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _HTTPProblem(too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _HTTPProblem(too_large)
    return decode_json(bytes(body))


def create_app(
    session: CanvasSession, *, hosts: Collection[str] = LOOPBACK_NAMES, token: str | None = None
) -> Starlette:
    """Return the ASGI app serving ``session``'s canvas; ``hosts`` are the host names browsers may use.

    With a ``token`` every request must carry it (see :class:`~imkerutils.exquisite.ui.security.TokenMiddleware`);
    a server listening beyond loopback must have one.
    """

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    @_guarded
    async def state(request: Request) -> Response:
        return _fresh(await run_in_threadpool(session.state))

    @_guarded
    async def grow(request: Request) -> Response:
        body = await _json_body(request)
        req = parse_grow(
            body,
            generators=session.generator_names(),
            seams=session.seams(),
            default_generator=session.default_generator(),
        )
        job = await run_in_threadpool(session.submit_grow, req)
        data = session.job(job.id)
        return _fresh({"job": data}, 202, f"/api/jobs/{job.id}")

    @_guarded
    async def job(request: Request) -> Response:
        return _fresh({"job": _by_job_id(request, session.job, "job")})

    def parse_generate_body(body: dict[str, Any]) -> Any:
        return parse_generate(
            body,
            bounds=session.view.bounds,
            generators=session.generator_names(),
            seams=session.seams(),
            default_generator=session.default_generator(),
        )

    @_guarded
    async def plan(request: Request) -> Response:
        req = parse_generate_body(await _json_body(request))
        data = await run_in_threadpool(session.plan, req)
        return _fresh({"plan": data})

    @_guarded
    async def generate(request: Request) -> Response:
        req = parse_generate_body(await _json_body(request))
        job = await run_in_threadpool(session.submit_generate, req)
        return _fresh({"job": session.job(job.id)}, 202, f"/api/jobs/{job.id}")

    @_guarded
    async def cancel(request: Request) -> Response:
        await _json_body(request)  # same-origin JSON only, like every state-changing request
        return _fresh({"job": _by_job_id(request, session.cancel, "job")})

    def proposal_id(request: Request) -> str:
        pid = request.path_params["pid"]
        if not _PROPOSAL_ID.fullmatch(pid):
            raise _HTTPProblem(PlainError("not_found", "No such staged candidate", f"no proposal {pid!r}", 404))
        return str(pid)

    @_guarded
    async def staged(request: Request) -> Response:
        return _fresh({"staged": session.state()["staged"]})

    @_guarded
    async def candidate_image(request: Request) -> Response:
        pid, k = proposal_id(request), request.path_params["k"]
        data = await run_in_threadpool(session.candidate_png, pid, k)
        return Response(data, media_type="image/png", headers={"cache-control": _IMMUTABLE})

    @_guarded
    async def accept(request: Request) -> Response:
        pid = proposal_id(request)
        k = parse_accept(await _json_body(request))
        job = await run_in_threadpool(session.submit_accept, pid, k)
        return _fresh({"job": session.job(job.id)}, 202, f"/api/jobs/{job.id}")

    @_guarded
    async def discard(request: Request) -> Response:
        pid = proposal_id(request)
        parse_undo(await _json_body(request))  # an empty object (or a head) only
        await asyncio.wrap_future(session.discard(pid))
        return _fresh({"discarded": pid})

    @_guarded
    async def budget(request: Request) -> Response:
        session.set_budget(parse_budget(await _json_body(request)))
        data = await run_in_threadpool(session.state)
        return _fresh({"cost": data["cost"]})

    def undo_redo(op: str) -> Handler:
        @_guarded
        async def handler(request: Request) -> Response:
            head = parse_undo(await _json_body(request))
            future = session.undo(head) if op == "undo" else session.redo(head)
            step = await asyncio.wrap_future(future)
            return _fresh({"step": {"number": step.number, "kind": step.kind}, "head": session.view.head})

        return handler

    @_guarded
    async def tile(request: Request) -> Response:
        p = request.path_params
        fmt = p["fmt"]
        if not all(p[k].isdigit() and len(p[k]) <= 9 for k in ("level", "col", "row")):  # int() of 5000 digits
            return _not_found("a tile is /api/tiles/LEVEL/COL/ROW.FMT with small non-negative integers")
        level, col, row = int(p["level"]), int(p["col"]), int(p["row"])
        view = session.view
        if fmt not in TILE_FORMATS or (fmt == "jpg" and view.reader.mode == "RGBA"):
            return _not_found(f"tile format {fmt!r} is not served for this {view.reader.mode} canvas")
        view.frame.tile_window(level, col, row)  # 404 (TileNotFoundError) before any work

        def etag_of(token: str) -> str:
            return f'"{token}.{level}.{col}.{row}.{fmt}"'

        def headers(token: str) -> dict[str, str]:
            fresh = request.query_params.get("v") == token
            return {"etag": etag_of(token), "cache-control": _IMMUTABLE if fresh else "no-cache"}

        if request.headers.get("if-none-match") == etag_of(view.token):
            return Response(status_code=304, headers=headers(view.token))

        def make() -> tuple[str, bytes, str]:
            v, pixels = session.read_tile(level, col, row)
            if pixels is None:
                return v.token, blank_png(), "image/png"
            if pixels.shape[2] == 4:  # unwritten parts are transparent: PNG even where JPEG was asked for
                return v.token, encode_tile(pixels, "png"), TILE_FORMATS["png"]
            return v.token, encode_tile(pixels, fmt), TILE_FORMATS[fmt]

        token, data, media = await run_in_threadpool(make)
        return Response(data, media_type=media, headers=headers(token))

    @_guarded
    async def thumb(request: Request) -> Response:
        number = request.path_params["n"]
        view = session.view
        entry = next((h for h in view.history if h["number"] == number), None)
        etag = f'"{entry["id"]}"' if entry is not None else None
        if etag is not None and request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        data = await run_in_threadpool(session.thumbnail, number)
        if data is None:
            return _not_found(f"no committed step {number} on this canvas")
        headers = {"cache-control": "no-cache"}
        if entry is not None:
            fresh = request.query_params.get("v") == entry["id"]
            headers = {"etag": etag or "", "cache-control": _IMMUTABLE if fresh else "no-cache"}
        return Response(data, media_type="image/png", headers=headers)

    exports = Exports(session.location, lambda: session.view.bounds)

    @_guarded
    async def export(request: Request) -> Response:
        job = await run_in_threadpool(exports.submit, parse_export(await _json_body(request)))
        return _fresh({"export": exports.get(job.id)}, 202, f"/api/exports/{job.id}")

    @_guarded
    async def export_status(request: Request) -> Response:
        return _fresh({"export": _by_job_id(request, exports.get, "export")})

    @_guarded
    async def export_file(request: Request) -> Response:
        path, filename, media = _by_job_id(request, exports.file, "export")
        return FileResponse(path, media_type=media, filename=filename, headers={"cache-control": "no-store"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(session.start)
        try:
            yield
        finally:
            session.close()
            await run_in_threadpool(exports.close)

    routes = [  # the route table, one line a route: alike by design
        Route("/", index, methods=["GET"]),
        Route("/api/state", state, methods=["GET"]),
        Route("/api/grow", grow, methods=["POST"]),
        Route("/api/jobs/{job_id:str}", job, methods=["GET"]),
        Route("/api/jobs/{job_id:str}/cancel", cancel, methods=["POST"]),
        Route("/api/plan", plan, methods=["POST"]),
        Route("/api/generate", generate, methods=["POST"]),
        Route("/api/staged", staged, methods=["GET"]),
        Route("/api/staged/{pid:str}/{k:int}.png", candidate_image, methods=["GET"]),
        Route("/api/staged/{pid:str}/accept", accept, methods=["POST"]),
        Route("/api/staged/{pid:str}/discard", discard, methods=["POST"]),
        Route("/api/budget", budget, methods=["POST"]),
        Route("/api/undo", undo_redo("undo"), methods=["POST"]),
        Route("/api/redo", undo_redo("redo"), methods=["POST"]),
        Route("/api/tiles/{level:str}/{col:str}/{row:str}.{fmt:str}", tile, methods=["GET"]),
        Route("/api/steps/{n:int}/thumb.png", thumb, methods=["GET"]),
        Route("/api/export", export, methods=["POST"]),
        Route("/api/exports/{job_id:str}", export_status, methods=["GET"]),
        Route("/api/exports/{job_id:str}/file", export_file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR, follow_symlink=False), name="static"),
    ]
    middleware = [Middleware(GuardMiddleware, hosts=hosts)]
    if token is not None:
        middleware.append(Middleware(TokenMiddleware, token=token))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
