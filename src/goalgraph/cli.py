"""The ``goalgraph`` command: serve, migrate, import, export-schema."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from goalgraph.settings import Settings

DEMO_DATABASE_URL = "sqlite+aiosqlite:///goalgraph-demo.db"

_DEMO_OPTION = click.option(
    "--demo", is_flag=True,
    help="Use the demo's database and licence, as `goalgraph serve --demo` does (goalgraph-demo.db unless "
         "GOALGRAPH_DATABASE_URL is set).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="goalgraph")
def main() -> None:
    """goalgraph — goals and sales targets for CRMs, computed live."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Load a demo organisation into an empty database first "
              "(default database goalgraph-demo.db unless GOALGRAPH_DATABASE_URL is set).")
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes.")
def serve(host: str, port: int, demo: bool, workers: int) -> None:
    """Run the GraphQL server (GraphiQL at /graphql, health at /healthz)."""
    import uvicorn

    settings = _command_settings("serve", demo)
    if demo:
        from goalgraph.demo import demo_tokens, ensure_demo_data

        summary = asyncio.run(ensure_demo_data(settings))
        click.echo(summary)
        click.echo("Tokens for GraphiQL (Headers: {\"Authorization\": \"Bearer <token>\"}), valid 12 hours:")
        for role, token in demo_tokens(settings).items():
            click.echo(f"  {role:13} {token}")
        click.echo("More: goalgraph token --demo USER_ID (a user) or goalgraph token --demo crm-sync --system; "
                   "goalgraph features --demo")
    from goalgraph.app import startup_problem

    problem = asyncio.run(startup_problem(settings))
    if problem is not None:
        _fail("serve", problem)
    click.echo(f"goalgraph on http://{host}:{port}/graphql  (database: {_safe_url(settings.database_url)})")
    if workers > 1:
        if demo:
            raise click.UsageError("--demo runs one worker; start workers against PostgreSQL without --demo")
        # Each worker dies with this process, even a kill -9 of it (see goalgraph.workers).
        uvicorn.run("goalgraph.workers:create_worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="info")
    else:
        from goalgraph.app import create_app
        from goalgraph.collector import tune_for_serving

        app = create_app(settings)
        tune_for_serving()
        uvicorn.run(app, host=host, port=port, log_level="info")


@main.command()
def dispatch() -> None:
    """Deliver notifications and nothing else (no HTTP server) until stopped (SIGTERM, Ctrl-C).

    For processes dedicated to delivery beside `goalgraph serve` ones started with GOALGRAPH_DISPATCHER=0
    (PostgreSQL: the bell of in-app notices reaches the servers through LISTEN/NOTIFY)."""
    import signal

    from goalgraph.runtime import open_runtime

    settings = _command_settings("dispatch", False)

    async def run() -> None:
        async with open_runtime(settings, listen=False) as rt:
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            rt.dispatcher.start()
            click.echo(f"goalgraph dispatching notifications (database: {_safe_url(settings.database_url)})")
            await stop.wait()

    asyncio.run(run())


@main.command()
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@click.option("--downgrade", "down", is_flag=True, help="Downgrade to --revision instead (e.g. --revision base).")
def migrate(revision: str, down: bool) -> None:
    """Apply (or revert) database migrations."""
    from goalgraph.db.migrate import current_revision, downgrade, upgrade
    from goalgraph.db.session import create_engine

    settings = Settings.from_env()

    async def run() -> str | None:
        engine = create_engine(settings)
        try:
            await (downgrade(engine, revision) if down else upgrade(engine, revision))
            return await current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"database {_safe_url(settings.database_url)} at revision {asyncio.run(run())}")


@main.command("import", epilog="Exit codes: 0 all loaded; 1 some rows rejected (the rest loaded, unless "
              "--all-or-nothing or --dry-run); 2 a file could not be read, or bad usage (nothing loaded when found "
              "before loading); 3 a database error stopped the import part-way. See docs/import.md.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", default=None, help="Kind of fact in a CSV file (user, team, pipeline, stage, deal, "
              "activity); by default taken from the file name, e.g. deals.csv. For NDJSON: the kind of rows "
              "without a \"kind\" field.")
@click.option("--batch-size", default=5000, show_default=True, type=int,
              help="Rows per batch; each batch is one transaction unless --all-or-nothing or --dry-run.")
@click.option("--all-or-nothing", is_flag=True, help="One transaction: load nothing if any row is rejected.")
@click.option("--dry-run", is_flag=True, help="Validate and resolve references, report, then roll back.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write rejected rows to this file to fix and re-import: .csv (header and rows as they were; "
              "CSV inputs of one layout) or .ndjson (any inputs); .gz compresses.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when on a terminal).")
def import_(files: tuple[Path, ...], kind: str | None, batch_size: int, all_or_nothing: bool, dry_run: bool,
            rejects: Path | None, progress: bool | None) -> None:
    """Bulk-load facts from NDJSON (.ndjson, .jsonl) or CSV files, optionally .gz.

    Files are streamed; every bad row is reported as FILE:LINE: field: message and the
    summary says what was loaded and what was not.
    """
    from goalgraph.ingest.bulk import import_command

    code = import_command(
        _settings_or_exit("import"), list(files), kind=kind, batch_size=batch_size, all_or_nothing=all_or_nothing,
        dry_run=dry_run, rejects=rejects, progress=sys.stderr.isatty() if progress is None else progress,
    )
    sys.exit(code)


@main.command()
@click.argument("subject")
@click.option("--system", is_flag=True, help="A service token (a CRM integration): all rights, not a person.")
@click.option("--hours", default=12.0, show_default=True, type=float,
              help="Validity; at most GOALGRAPH_JWT_MAX_LIFETIME_HOURS (default 24).")
@_DEMO_OPTION
def token(subject: str, system: bool, hours: float, demo: bool) -> None:
    """Mint a bearer token for the user with CRM id SUBJECT (local use; shared-secret setups).

    With --system it is a service token; the token's id (jti) is what an admin revokes. It is signed
    with the secret of the database GOALGRAPH_DATABASE_URL names (with --demo: the demo's), so it works
    with a server on that database; standard error says which secret signed it.
    """
    from datetime import timedelta
    from pathlib import Path

    from goalgraph.access.tokens import ConfigError, mint_token, secret_source

    settings = _command_settings("token", demo)
    db_path = settings.sqlite_path()
    if not settings.jwt_secret and db_path is not None and not Path(db_path).exists():
        # Signing would create a new secret beside a database no server uses: refuse, and say where to look.
        hint = (f"; the demo's database is {DEMO_DATABASE_URL.split('///')[1]}: add --demo"
                if not demo and Path(DEMO_DATABASE_URL.split("///")[1]).exists() else "")
        _fail("token", f"no database at {db_path}, so no server verifies tokens with its secret{hint} "
                       "(or set GOALGRAPH_DATABASE_URL to the server's database, or GOALGRAPH_JWT_SECRET)")
    try:
        minted = mint_token(settings, subject, system=system, ttl=timedelta(hours=hours))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"signed with {secret_source(settings)}", err=True)
    click.echo(minted)


@main.command()
@click.option("--enable", "enable", multiple=True, metavar="KEY", help="Switch a licensed feature on.")
@click.option("--disable", "disable", multiple=True, metavar="KEY", help="Switch a feature off.")
@_DEMO_OPTION
def features(enable: tuple[str, ...], disable: tuple[str, ...], demo: bool) -> None:
    """List features (licensed, enabled) and switch them on or off (with --demo: the demo's database and licence)."""
    from goalgraph import clock
    from goalgraph.access.admin import set_feature_enabled
    from goalgraph.access.gate import LicenceRequired, load_gate
    from goalgraph.errors import IngestRejected
    from goalgraph.organisation import get_organisation
    from goalgraph.runtime import open_runtime

    settings = _command_settings("features", demo)

    async def run() -> list[str]:
        async with open_runtime(settings) as rt:
            now = clock.now()
            async with rt.sessions() as session, session.begin():
                for key, on in [*((k, True) for k in enable), *((k, False) for k in disable)]:
                    await set_feature_enabled(session, settings, rt.registry, key, on, actor="cli", now=now)
            async with rt.sessions() as session:
                today = clock.today(await get_organisation(session), now)
                gate = await load_gate(session, settings, rt.registry, today)
            lines = [f"licence: {gate.licence.plan}" + (f" ({gate.licence.reason})" if gate.licence.reason else "")]
            for key, feature in sorted(rt.registry.features.items()):
                state = "enabled" if gate.enabled(key) else ("switched off" if gate.licensed(key) else "not licensed")
                lines.append(f"  {key:20} {state:13} {feature.label}")
            return lines

    try:
        for line in asyncio.run(run()):
            click.echo(line)
    except LicenceRequired as exc:
        raise click.ClickException(exc.message) from exc
    except IngestRejected as exc:
        raise click.ClickException(str(exc)) from exc


def _plan_options(fn):  # type: ignore[no-untyped-def]
    """The targets plan a file is about (as the targets plan's key)."""
    for option in reversed([
        click.option("--year", type=int, required=True, help="The (fiscal) year, e.g. 2026."),
        click.option("--goal-type", default="DEALS_WON", show_default=True, help="Goal type key."),
        click.option("--measure", default="VALUE", show_default=True, help="Measure key."),
        click.option("--interval", default="MONTHLY", show_default=True,
                     type=click.Choice(["WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"])),
        click.option("--currency", default=None, help="Money measures: currency (default the organisation's)."),
        click.option("--fiscal", is_flag=True, help="Quarters and years follow the fiscal year."),
    ]):
        fn = option(fn)
    return fn


@main.group()
def targets() -> None:
    """Targets plans as CSV files: one row per assignee, one column per period (docs/goals.md)."""


@targets.command("export")
@_plan_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (default: standard output).")
def targets_export(year: int, goal_type: str, measure: str, interval: str, currency: str | None, fiscal: bool,
                   output: Path | None) -> None:
    """Write a year's targets plan as CSV (kind,id,name,<period starts>)."""
    from goalgraph.access.viewer import SYSTEM
    from goalgraph.goals.errors import GoalInvalid
    from goalgraph.runtime import open_runtime
    from goalgraph.targets_files import export_csv
    from goalgraph.targets_plan import PlanKey

    settings = _settings_or_exit("targets export")
    key = PlanKey(year, goal_type, measure, interval, currency, fiscal)

    async def run() -> str:
        async with open_runtime(settings, listen=False) as rt, rt.sessions() as session:
            return await export_csv(session, rt.registry, key, SYSTEM)

    try:
        text = asyncio.run(run())
    except GoalInvalid as exc:
        raise click.ClickException(exc.message) from exc
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output} ({text.count(chr(10)) - 1} rows)", err=True)


@targets.command("import", epilog="Exit codes: 0 saved (or checked, with --dry-run); 1 the file was refused "
                 "(nothing saved); 2 it could not be read.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_plan_options
@click.option("--dry-run", is_flag=True, help="Check every cell and the plan's rules, then roll back.")
def targets_import(file: Path, year: int, goal_type: str, measure: str, interval: str, currency: str | None,
                   fiscal: bool, dry_run: bool) -> None:
    """Set a year's targets from a CSV file, all or nothing; problems are named as FILE:LINE: column: message."""
    from goalgraph import clock
    from goalgraph.access.gate import LicenceRequired, load_gate
    from goalgraph.access.viewer import SYSTEM
    from goalgraph.goals.errors import GoalProblem
    from goalgraph.organisation import get_organisation
    from goalgraph.runtime import open_runtime
    from goalgraph.targets_files import TargetsFileRejected, import_csv
    from goalgraph.targets_plan import PlanKey

    settings = _settings_or_exit("targets import")
    key = PlanKey(year, goal_type, measure, interval, currency, fiscal)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"{file}: cannot read it: {exc}", err=True)
        sys.exit(2)

    class Checked(Exception):
        pass

    async def run() -> tuple[int, int]:
        async with open_runtime(settings, listen=False) as rt:
            now = clock.now()
            result = (0, 0)
            try:
                async with rt.sessions() as session, session.begin():
                    gate = await load_gate(session, settings, rt.registry, clock.today(await get_organisation(session), now))
                    result = await import_csv(session, rt.registry, key, text, viewer=SYSTEM, gate=gate, now=now)
                    if dry_run:
                        raise Checked
                    from goalgraph.live.broker import FactsChanged
                    await rt.broker.announce(session, FactsChanged(None))
            except Checked:
                pass
            return result

    try:
        cells, changed = asyncio.run(run())
    except TargetsFileRejected as rejected:
        for e in rejected.errors:
            click.echo(f"{file}:{e.line}: {e.column}: {e.message}", err=True)
        click.echo(f"refused: {len(rejected.errors)} problem(s); nothing saved", err=True)
        sys.exit(1)
    except (GoalProblem, LicenceRequired) as problem:
        click.echo(f"{file}: {problem.message}; nothing saved", err=True)
        sys.exit(1)
    verb = "checked (dry run, nothing saved)" if dry_run else "saved"
    click.echo(f"{file}: {cells} targets {verb}; {changed} plan goal(s) {'would change' if dry_run else 'changed'}")


@main.group()
def licence() -> None:
    """Licence keys and tokens (vendors sign; servers verify offline)."""


@licence.command("keygen")
@click.argument("private_key", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("public_key", type=click.Path(dir_okay=False, path_type=Path))
def licence_keygen(private_key: Path, public_key: Path) -> None:
    """Write a new Ed25519 key pair (keep the private key offline)."""
    from goalgraph.access.licence import generate_keypair

    private, public = generate_keypair()
    private_key.write_text(private)
    private_key.chmod(0o600)
    public_key.write_text(public)
    click.echo(f"wrote {private_key} (keep it secret) and {public_key} (GOALGRAPH_LICENCE_PUBLIC_KEY_FILE)")


@licence.command("sign")
@click.option("--private-key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--plan", required=True, type=click.Choice(["free", "professional", "enterprise"]))
@click.option("--customer", required=True)
@click.option("--seats", type=int, default=None)
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Last valid day.")
@click.option("--feature", "extra", multiple=True, help="Extra feature key beyond the plan (repeatable).")
def licence_sign(private_key: Path, plan: str, customer: str, seats: int | None, expires, extra) -> None:  # type: ignore[no-untyped-def]
    """Print a signed licence token."""
    from goalgraph.access.licence import sign_licence

    click.echo(sign_licence(private_key.read_text(), plan=plan, customer=customer, seats=seats,
                            expires=expires.date() if expires else None, extra_features=tuple(extra)))


@main.command("plugins")
def plugins_() -> None:
    """List loaded plugins with their version, goal types and features."""
    from goalgraph.plugins import PluginError, load_plugins

    try:
        loaded = load_plugins(strict=Settings.from_env().strict_plugins)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    for info in loaded.loaded:
        click.echo(f"{info.name} {info.version} ({info.module})")
        for key in info.goal_types:
            goal_type = loaded.registry.goal_types[key]
            needs = f"  [needs {goal_type.feature}]" if goal_type.feature else ""
            measures = ", ".join(m.key for m in goal_type.measures)
            click.echo(f"  goal type {key}: {goal_type.label} — measures {measures}{needs}")
        for key in info.features:
            click.echo(f"  feature {key}: {loaded.registry.features[key].label}")
        for key in info.dimensions:
            click.echo(f"  dimension {key}: {loaded.registry.dimensions[key].label}")
    for name, problem in loaded.failed:
        click.echo(f"FAILED {name}: {problem}", err=True)
    if loaded.failed:
        sys.exit(1)


@main.command(epilog="Run it after restoring a backup or to check the store; servers keep it fresh on their own.")
@click.option("--goal", "goal_ids", multiple=True, type=int, metavar="ID", help="Only this goal (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Every goal, closed (frozen) periods too.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@_DEMO_OPTION
def recompute(goal_ids: tuple[int, ...], everything: bool, progress: bool | None, demo: bool) -> None:
    """Rebuild the progress store by hand: the goals given with --goal, or --all."""
    import time

    from goalgraph.runtime import open_runtime

    if bool(goal_ids) == everything:
        raise click.UsageError("give --goal ID (one or more) or --all")
    settings = _command_settings("recompute", demo)
    show = sys.stderr.isatty() if progress is None else progress

    async def run() -> tuple[int, int, float]:
        started = time.monotonic()
        async with open_runtime(settings, listen=False) as rt:
            with click.progressbar(length=1, label="recomputing", file=sys.stderr if show else open(os.devnull, "w"),
                                   show_pos=False) as bar:
                def step(done, left: int) -> None:  # type: ignore[no-untyped-def]
                    bar.length = max(bar.length, bar.pos + done.marks + left)
                    bar.update(done.marks)

                total = await rt.recompute.rebuild(None if everything else goal_ids, on_round=step)
        return total.rows, len(total.changed), time.monotonic() - started

    try:
        rows, changed, seconds = asyncio.run(run())
    except LookupError as exc:
        _fail("recompute", str(exc))
    click.echo(f"recomputed {rows:,} stored periods in {seconds:.1f} s; {changed:,} goals' figures changed")


@main.command("export-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def export_schema(output: Path | None) -> None:
    """Print the GraphQL schema (SDL)."""
    from goalgraph.graphql.schema import export_sdl

    sdl = export_sdl()
    if output is None:
        click.echo(sdl, nl=False)
    else:
        output.write_text(sdl)


def _fail(command: str, message: str) -> None:
    """Stop with one line on standard error (configuration problems: no traceback)."""
    click.echo(f"goalgraph {command}: {message}", err=True)
    sys.exit(2)


def _command_settings(command: str, demo: bool) -> Settings:
    """Settings for a command; with ``demo``, the demo's database (unless one is configured) and licence."""
    if demo and not os.environ.get("GOALGRAPH_DATABASE_URL"):
        os.environ["GOALGRAPH_DATABASE_URL"] = DEMO_DATABASE_URL
    settings = _settings_or_exit(command)
    db_path = settings.sqlite_path()
    # Only `serve --demo` creates the demo; other commands use it if it is there (and leave no stray files).
    if demo and (command == "serve" or db_path is None or Path(db_path).exists()):
        from goalgraph.demo import demo_settings

        settings = demo_settings(settings)
    return settings


def _settings_or_exit(command: str) -> Settings:
    from goalgraph.settings import SettingsError

    try:
        return Settings.from_env()
    except SettingsError as exc:
        _fail(command, str(exc))
        raise  # pragma: no cover - _fail exits


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://…@{rest.split('@', 1)[1]}"


if __name__ == "__main__":  # pragma: no cover
    main()
