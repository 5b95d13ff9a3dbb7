"""Typed settings read from the environment (``GOALGRAPH_*``)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///goalgraph.db"


class SettingsError(ValueError):
    """A setting that cannot be used or contradicts another; the message is one line naming the variable."""


def _number(env: dict[str, str], name: str, default: float, kind: type = int, minimum: float = 1) -> float:
    """``name`` as a number; unset or empty means ``default`` (as docs/deployment.md says)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name}={raw!r}: expected {what} (or leave it empty for the default {default})") from None
    if not math.isfinite(value) or value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def normalise_database_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` mean the asyncpg driver, ``sqlite://`` aiosqlite; other drivers are refused."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(f"GOALGRAPH_DATABASE_URL={url!r}: not a database URL "
                            "(e.g. postgresql+asyncpg://user@host/db or sqlite+aiosqlite:///goalgraph.db)")
    if scheme in {"postgresql", "postgres"}:
        return f"postgresql+asyncpg://{rest}"
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme.startswith("postgres") and scheme != "postgresql+asyncpg":
        raise SettingsError(f"GOALGRAPH_DATABASE_URL: driver {scheme!r} is not supported; "
                            "use postgresql+asyncpg://… (or plain postgresql://)")
    if scheme.startswith("sqlite") and scheme != "sqlite+aiosqlite":
        raise SettingsError(f"GOALGRAPH_DATABASE_URL: driver {scheme!r} is not supported; use sqlite+aiosqlite:///…")
    if not scheme.startswith(("postgresql", "sqlite")):
        raise SettingsError(f"GOALGRAPH_DATABASE_URL: {scheme!r} is not supported; use PostgreSQL "
                            "(postgresql+asyncpg://…) or SQLite (sqlite+aiosqlite:///…)")
    return url


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _file_or_value(env: dict[str, str], name: str) -> str | None:
    """``NAME`` itself, or the contents of the file ``NAME_FILE`` points to."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{name}_FILE={path!r}: cannot read it ({exc.strerror or exc})") from None


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
    #: Hours after a period ends before its stored result is frozen (later facts no longer move it).
    snapshot_grace_hours: float = 24.0
    #: Seconds between the recompute worker's looks for stale marks written by other processes.
    recompute_poll_seconds: float = 1.0
    #: A read recomputes stale stored rows itself when they counted at most this many facts together
    #: (and are at most 64 periods); otherwise it serves their last value, flagged pending. 0: never.
    inline_recompute_facts: int = 20_000
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
    #: SMTP server for e-mail notifications; None switches e-mail off (see docs/notifications.md).
    smtp_host: str | None = None
    smtp_port: int = 587
    #: ``starttls`` (upgrade a plain connection), ``ssl`` (TLS from the start, usually port 465) or ``none``.
    smtp_tls: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    #: The sender of notification e-mails.
    smtp_from: str = "goalgraph@localhost"
    #: Delivery attempts per notification before it is marked FAILED.
    notify_max_attempts: int = 8
    #: Wait before the second attempt; each further one waits twice as long (capped at an hour).
    notify_backoff_seconds: float = 5.0
    #: How often the dispatcher looks for due notifications when not woken.
    notify_poll_seconds: float = 1.0
    #: Whether ``goalgraph serve`` runs a dispatcher (off: delivery is left to ``goalgraph dispatch`` processes).
    dispatcher: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Auth settings that cannot work are refused at start, not at the first request.
        if self.jwt_public_key and not (self.jwt_issuer and self.jwt_audience):
            missing = " and ".join(n for n, v in (("GOALGRAPH_JWT_ISSUER", self.jwt_issuer),
                                                 ("GOALGRAPH_JWT_AUDIENCE", self.jwt_audience)) if not v)
            raise SettingsError(f"GOALGRAPH_JWT_PUBLIC_KEY (identity-provider mode) needs {missing} too")
        if self.smtp_tls not in {"starttls", "ssl", "none"}:
            raise SettingsError(f"GOALGRAPH_SMTP_TLS={self.smtp_tls!r}: expected starttls, ssl or none")
        if not self.jwt_max_lifetime_hours > 0:
            raise SettingsError("GOALGRAPH_JWT_MAX_LIFETIME_HOURS must be a positive number of hours")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``GOALGRAPH_*`` variables; keyword overrides win.

        Raises :class:`SettingsError` (one line naming the variable) for a value that cannot be used.
        """
        env = dict(os.environ if environ is None else environ)
        url = normalise_database_url((env.get("GOALGRAPH_DATABASE_URL") or "").strip() or DEFAULT_DATABASE_URL)
        settings = cls(
            database_url=url,
            database_schema=env.get("GOALGRAPH_DATABASE_SCHEMA") or None,
            migrate_on_start=_flag(env.get("GOALGRAPH_MIGRATE_ON_START"), default=url.startswith("sqlite")),
            strict_plugins=_flag(env.get("GOALGRAPH_STRICT_PLUGINS"), default=_flag(env.get("CI"))),
            graphiql=_flag(env.get("GOALGRAPH_GRAPHIQL"), default=True),
            introspection=_flag(env.get("GOALGRAPH_INTROSPECTION"), default=True),
            max_page_size=int(_number(env, "GOALGRAPH_MAX_PAGE_SIZE", 500)),
            max_query_depth=int(_number(env, "GOALGRAPH_MAX_QUERY_DEPTH", 15)),
            max_query_cost=int(_number(env, "GOALGRAPH_MAX_QUERY_COST", 200000, minimum=0)),
            max_batch_size=int(_number(env, "GOALGRAPH_MAX_BATCH_SIZE", 5000)),
            max_body_bytes=int(_number(env, "GOALGRAPH_MAX_BODY_BYTES", 8 * 1024 * 1024)),
            snapshot_grace_hours=_number(env, "GOALGRAPH_SNAPSHOT_GRACE_HOURS", 24.0, float, minimum=0),
            recompute_poll_seconds=_number(env, "GOALGRAPH_RECOMPUTE_POLL_SECONDS", 1.0, float, minimum=0.01),
            inline_recompute_facts=int(_number(env, "GOALGRAPH_INLINE_RECOMPUTE_FACTS", 20000, minimum=0)),
            echo_sql=_flag(env.get("GOALGRAPH_ECHO_SQL")),
            auth=_flag(env.get("GOALGRAPH_AUTH"), default=True),
            dashboard_dir=env.get("GOALGRAPH_DASHBOARD_DIR") or None,
            jwt_secret=env.get("GOALGRAPH_JWT_SECRET") or None,
            jwt_public_key=_file_or_value(env, "GOALGRAPH_JWT_PUBLIC_KEY"),
            jwt_audience=env.get("GOALGRAPH_JWT_AUDIENCE") or None,
            jwt_issuer=env.get("GOALGRAPH_JWT_ISSUER") or None,
            jwt_max_lifetime_hours=_number(env, "GOALGRAPH_JWT_MAX_LIFETIME_HOURS", 24.0, float, minimum=0),
            licence=_file_or_value(env, "GOALGRAPH_LICENCE"),
            licence_public_key=_file_or_value(env, "GOALGRAPH_LICENCE_PUBLIC_KEY"),
            smtp_host=env.get("GOALGRAPH_SMTP_HOST") or None,
            smtp_port=int(_number(env, "GOALGRAPH_SMTP_PORT", 587)),
            smtp_tls=(env.get("GOALGRAPH_SMTP_TLS") or "starttls").strip().lower(),
            smtp_username=env.get("GOALGRAPH_SMTP_USERNAME") or None,
            smtp_password=_file_or_value(env, "GOALGRAPH_SMTP_PASSWORD"),
            smtp_from=env.get("GOALGRAPH_SMTP_FROM") or "goalgraph@localhost",
            notify_max_attempts=int(_number(env, "GOALGRAPH_NOTIFY_MAX_ATTEMPTS", 8)),
            notify_backoff_seconds=_number(env, "GOALGRAPH_NOTIFY_BACKOFF_SECONDS", 5.0, float, minimum=0),
            notify_poll_seconds=_number(env, "GOALGRAPH_NOTIFY_POLL_SECONDS", 1.0, float, minimum=0.01),
            dispatcher=_flag(env.get("GOALGRAPH_DISPATCHER"), default=True),
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
