"""Typed settings read from the environment (``GOALGRAPH_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///goalgraph.db"


class SettingsError(ValueError):
    """A setting is missing or contradicts another; the message is one line naming the variable."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _file_or_value(env: dict[str, str], name: str) -> str | None:
    """``NAME`` itself, or the contents of the file ``NAME_FILE`` points to."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    return Path(path).read_text().strip() if path else None


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, resolved once at start."""

    database_url: str = DEFAULT_DATABASE_URL
    #: PostgreSQL schema to use (its ``search_path``); None for the server's default.
    database_schema: str | None = None
    #: Run Alembic migrations when the app starts (default for the embedded SQLite database).
    migrate_on_start: bool = True
    #: A plugin that fails to load stops the service instead of being skipped.
    strict_plugins: bool = False
    #: Serve GraphiQL at /graphql (GET from a browser).
    graphiql: bool = True
    #: Allow schema introspection queries.
    introspection: bool = True
    #: Largest page a connection field returns.
    max_page_size: int = 500
    #: Deepest query accepted.
    max_query_depth: int = 15
    #: Largest estimated query cost accepted (see docs/graphql.md, "Query cost"); 0 switches the limit off.
    max_query_cost: int = 200_000
    #: Largest HTTP request body accepted (bytes).
    max_body_bytes: int = 8 * 1024 * 1024
    #: Most facts accepted in one ingest mutation.
    max_batch_size: int = 5000
    #: Hours after a period ends before its result is frozen as a snapshot.
    snapshot_grace_hours: float = 24.0
    #: Require a bearer token on every GraphQL operation (off only for local experiments).
    auth: bool = True
    #: HS256 secret for tokens; for a SQLite file without one, a secret file beside it is used.
    jwt_secret: str | None = None
    #: PEM public key of an identity provider (RS256/ES256/EdDSA tokens) instead of a secret.
    jwt_public_key: str | None = None
    #: Identity-provider mode requires both: tokens must name this audience and issuer.
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    #: Longest a token may be valid (``exp`` at most this far ahead); tokens without ``exp`` are refused.
    jwt_max_lifetime_hours: float = 24.0
    #: A signed licence token (or ``GOALGRAPH_LICENCE_FILE``); an admin-installed one wins.
    licence: str | None = None
    #: PEM Ed25519 public key verifying licences (default: the key shipped with goalgraph).
    licence_public_key: str | None = None
    #: A built single-page app served at / (default: examples/dashboard/dist of a source checkout, if built).
    dashboard_dir: str | None = None
    #: Echo SQL statements (debugging).
    echo_sql: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Auth settings that cannot work are refused at start, not at the first request.
        if self.jwt_public_key and not (self.jwt_issuer and self.jwt_audience):
            missing = " and ".join(n for n, v in (("GOALGRAPH_JWT_ISSUER", self.jwt_issuer),
                                                 ("GOALGRAPH_JWT_AUDIENCE", self.jwt_audience)) if not v)
            raise SettingsError(f"GOALGRAPH_JWT_PUBLIC_KEY (identity-provider mode) needs {missing} too")
        if not self.jwt_max_lifetime_hours > 0:
            raise SettingsError("GOALGRAPH_JWT_MAX_LIFETIME_HOURS must be a positive number of hours")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``GOALGRAPH_*`` variables; keyword overrides win."""
        env = dict(os.environ if environ is None else environ)
        url = env.get("GOALGRAPH_DATABASE_URL") or DEFAULT_DATABASE_URL
        settings = cls(
            database_url=url,
            database_schema=env.get("GOALGRAPH_DATABASE_SCHEMA") or None,
            migrate_on_start=_flag(env.get("GOALGRAPH_MIGRATE_ON_START"), default=url.startswith("sqlite")),
            strict_plugins=_flag(env.get("GOALGRAPH_STRICT_PLUGINS"), default=_flag(env.get("CI"))),
            graphiql=_flag(env.get("GOALGRAPH_GRAPHIQL"), default=True),
            introspection=_flag(env.get("GOALGRAPH_INTROSPECTION"), default=True),
            max_page_size=int(env.get("GOALGRAPH_MAX_PAGE_SIZE", "500")),
            max_query_depth=int(env.get("GOALGRAPH_MAX_QUERY_DEPTH", "15")),
            max_query_cost=int(env.get("GOALGRAPH_MAX_QUERY_COST") or "200000"),
            max_batch_size=int(env.get("GOALGRAPH_MAX_BATCH_SIZE", "5000")),
            max_body_bytes=int(env.get("GOALGRAPH_MAX_BODY_BYTES", str(8 * 1024 * 1024))),
            snapshot_grace_hours=float(env.get("GOALGRAPH_SNAPSHOT_GRACE_HOURS", "24")),
            echo_sql=_flag(env.get("GOALGRAPH_ECHO_SQL")),
            auth=_flag(env.get("GOALGRAPH_AUTH"), default=True),
            dashboard_dir=env.get("GOALGRAPH_DASHBOARD_DIR") or None,
            jwt_secret=env.get("GOALGRAPH_JWT_SECRET") or None,
            jwt_public_key=_file_or_value(env, "GOALGRAPH_JWT_PUBLIC_KEY"),
            jwt_audience=env.get("GOALGRAPH_JWT_AUDIENCE") or None,
            jwt_issuer=env.get("GOALGRAPH_JWT_ISSUER") or None,
            jwt_max_lifetime_hours=float(env.get("GOALGRAPH_JWT_MAX_LIFETIME_HOURS") or "24"),
            licence=_file_or_value(env, "GOALGRAPH_LICENCE"),
            licence_public_key=_file_or_value(env, "GOALGRAPH_LICENCE_PUBLIC_KEY"),
        )
        return replace(settings, **overrides) if overrides else settings  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite URL, or None for PostgreSQL / in-memory."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[-1]
        return None if path in {"", ":memory:"} else Path(path)
