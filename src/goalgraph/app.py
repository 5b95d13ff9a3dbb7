"""The ASGI application: GraphQL at /graphql, health at /healthz."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException  # strawberry's HTTP refusals (a dependency of strawberry)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData

from goalgraph import inputs
from goalgraph.compression import Compression
from goalgraph.graphql.context import Context
from goalgraph.graphql.schema import build_schema
from goalgraph.limits import BodySizeLimit
from goalgraph.runtime import Runtime, open_runtime
from goalgraph.settings import Settings
from goalgraph.static import GRAPHIQL_DIR, CachedStaticFiles, graphiql_response

#: Where a source checkout builds the example dashboard (examples/dashboard, `npm run build`).
DEFAULT_DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "dashboard" / "dist"


def encode_answer(data: object) -> bytes:
    """A GraphQL answer as JSON, with orjson."""
    try:
        return orjson.dumps(data, default=str)
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits and lone surrogates; the input rules keep both
        # out, but an answer must never fail to encode: the slower encoder escapes them.
        return json.dumps(data, default=str, separators=(",", ":")).encode()


class GoalgraphGraphQL(GraphQL):
    """strawberry's ASGI view with goalgraph's context and a fast JSON encoder."""

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        return Context(runtime=request.app.state.runtime, request=request, response=response)

    def encode_json(self, data: object) -> str:  # type: ignore[override]
        # Text, not bytes: on websockets bytes would go out as binary frames, which browsers'
        # graphql-ws clients reject.
        return encode_answer(data).decode()

    def create_response(self, response_data: Any, sub_response: Response) -> Response:  # type: ignore[override]
        """strawberry's JSON response, with the answer encoded once, to bytes."""
        response = Response(encode_answer(response_data), status_code=sub_response.status_code or 200,
                            media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response

    def decode_json(self, data: str | bytes) -> object:
        """Request bodies and websocket messages, by the input rules (goalgraph.inputs)."""
        try:
            return inputs.decode_json_body(data)
        except inputs.InputRefused as exc:
            raise _BodyRefused(str(exc)) from None

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = self.decode_json(data)
        except _BodyRefused as exc:
            raise HTTPException(400, exc.msg) from None
        if not isinstance(value, (dict, list)):
            raise HTTPException(400, f"the body must be a JSON object, got {type(value).__name__}")
        return value

    async def parse_http_body(self, request: Any) -> Any:  # type: ignore[override]
        data = await self._json_post(request) or await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            for name in ("query", "operation_name"):
                text = getattr(item, name, None)
                if isinstance(text, str) and (problem := inputs.text_problem(text)) is not None:
                    raise HTTPException(400, f"{name}: {problem}")
        return data

    async def _json_post(self, request: Any) -> GraphQLRequestData | None:
        """The common request — a POST of one well-formed JSON operation, no streaming asked for —
        without strawberry's generic negotiation (its content-type parsing and stream-transport lookup
        cost as much as running ``{ __typename }``); None for anything else, which strawberry's own
        parser answers (and refuses) as ever."""
        if request.method != "POST":
            return None
        content_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        accept = (request.headers.get("accept") or "").lower()
        if content_type != "application/json" or "multipart" in accept or "event-stream" in accept:
            return None
        value = self.parse_json(await request.get_body())
        if not isinstance(value, dict):
            return None
        query, variables, extensions = value.get("query"), value.get("variables"), value.get("extensions")
        if (not isinstance(query, (str, type(None))) or not isinstance(variables, (dict, type(None)))
                or not isinstance(extensions, (dict, type(None)))):
            return None
        return GraphQLRequestData(query=query, variables=variables, operation_name=value.get("operationName"),
                                  extensions=extensions, protocol="http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's view, answering its HTTP refusals (400, 405 …) as JSON GraphQL errors."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        runtime = scope["app"].state.runtime
        runtime.requests_in_flight += 1
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = http_error(exc.status_code, exc.reason)
        finally:
            runtime.requests_in_flight -= 1
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """GraphiQL from the package's own copy (no CDN), see :mod:`goalgraph.static`."""
        return graphiql_response()

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """Check the token of a websocket (in the connection_init payload) before any subscription."""
        from graphql import GraphQLError
        from strawberry.exceptions import ConnectionRejectionError

        try:
            await context.viewer()
        except GraphQLError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return None


class _BodyRefused(json.JSONDecodeError):
    """A body the input rules refuse (a JSONDecodeError, so websockets treat it as a bad message)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)


def http_error(status: int, message: str) -> Response:
    """A refused HTTP request as a GraphQL error body."""
    code = "BAD_USER_INPUT" if 400 <= status < 500 else "INTERNAL"
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)
class StartupError(RuntimeError):
    """The configuration cannot work; the message is one line saying what to fix."""


async def startup_problem(settings: Settings) -> str | None:
    """What stops this configuration from serving (checked before start-up), or None.

    A database that cannot be reached is not one: the server starts and ``/healthz`` reports it.
    """
    from goalgraph.access.tokens import ConfigError, signing_secret

    if settings.auth and not settings.jwt_public_key:
        try:
            signing_secret(settings)
        except ConfigError as exc:
            return f"{exc}: without it no token can be verified"
    if not settings.is_sqlite and settings.database_schema:
        from sqlalchemy import text

        from goalgraph.db.session import create_engine

        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                          {"s": settings.database_schema})
        except Exception:  # noqa: BLE001 - unreachable: start anyway, /healthz says so
            return None
        finally:
            await engine.dispose()
        if not found:
            return (f"GOALGRAPH_DATABASE_SCHEMA={settings.database_schema!r}: no such schema in the database; "
                    f"create it (CREATE SCHEMA \"{settings.database_schema}\") and run `goalgraph migrate`")
    return None


def dashboard_dir(settings: Settings) -> Path | None:
    """The built dashboard to serve at /, if there is one."""
    path = Path(settings.dashboard_dir) if settings.dashboard_dir else DEFAULT_DASHBOARD
    return path if (path / "index.html").is_file() else None


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Starlette:
    """Build the app. The lifespan opens the database (and migrates the embedded default).

    Pass ``runtime`` to reuse an already opened one (tests, the demo command).
    """
    settings = settings or Settings.from_env()
    schema = build_schema(settings)
    graphql_app = GoalgraphGraphQL(schema, graphql_ide="graphiql" if settings.graphiql else None)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        problem = await startup_problem(settings)
        if problem is not None:
            raise StartupError(problem)
        async with open_runtime(settings) as opened:
            app.state.runtime = opened
            if settings.dispatcher:  # notifications: one dispatcher per server process unless GOALGRAPH_DISPATCHER=0
                opened.dispatcher.start()
            opened.recompute.start()  # the progress store: one round at a time across processes
            yield

    async def healthz(request: Request) -> Response:
        state = await request.app.state.runtime.database_state()
        if not state["ok"]:
            status = "unavailable"
        elif state.get("revision") is None:
            status = "unmigrated"  # reachable, but `goalgraph migrate` has not run
        else:
            status = "ok"
        return JSONResponse({"status": status, "database": state}, status_code=200 if status == "ok" else 503)

    async def root(_: Request) -> Response:
        return RedirectResponse("/graphql")

    routes: list = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_app),
    ]
    if settings.graphiql:
        routes.insert(1, Mount("/graphql/ide", CachedStaticFiles(directory=GRAPHIQL_DIR / "assets"), name="graphiql"))
    dashboard = dashboard_dir(settings)
    if dashboard is not None:
        routes.append(Mount("/", CachedStaticFiles(directory=dashboard, html=True), name="dashboard"))
    else:
        routes.append(Route("/", root, methods=["GET"]))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(Compression), Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)],
    )
    app.state.settings = settings
    app.state.schema = schema
    if runtime is not None:
        app.state.runtime = runtime
    return app
