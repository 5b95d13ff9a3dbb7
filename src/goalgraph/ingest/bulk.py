"""``goalgraph import``: bulk-load facts from NDJSON and CSV files.

Files are streamed (never read whole). A reader thread turns rows into validated records
(:mod:`goalgraph.ingest.validate`, shared with the GraphQL mutation), groups them into
batches of one kind and prepares each for its statement where it can (:meth:`Ingestor.prepare
<goalgraph.ingest.upsert.Ingestor.prepare>`: references from the id caches, one record per id,
COPY layout); the event loop applies each batch with :class:`~goalgraph.ingest.upsert.Ingestor`
in lenient mode, so a row with a bad reference is reported and skipped instead of sinking its
batch. The reader starts the next batch when the current one's statement is sent, so reading,
validating and preparing batch N+1 overlap with the database running batch N's statement.

Transactions: by default every batch commits, so a huge file never holds one long transaction
and a failure part-way leaves whole batches behind — the summary names the last committed line.
``all_or_nothing`` uses one transaction and rolls it back if any row is rejected; ``dry_run``
rolls back whatever happens.

Exit codes: 0 everything loaded; 1 some rows were rejected (the rest loaded, unless
all-or-nothing); 2 a file could not be read or the command was misused; 3 a database
error stopped the import part-way.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import queue
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import orjson
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from goalgraph import clock
from goalgraph.db.retry import RetriesExhausted, retrying
from goalgraph.events import drain
from goalgraph.errors import FactError
from goalgraph.errors import Path as FactPath
from goalgraph.ingest.readers import (
    CSV,
    NDJSON,
    ImportUsageError,
    ReadError,
    Source,
    open_source,
    parse_kind_option,
    parser_of,
    plugin_kinds,
)
from goalgraph.ingest.kinds import write_records
from goalgraph.ingest.upsert import BatchEffect, IngestSummary, Ingestor, Prepared, UpsertCounts
from goalgraph.ingest.validate import PARSERS, Kind
from goalgraph.live.broker import FactsChanged
from goalgraph.live.changes import FactEffect, facts_committed, mark_effect
from goalgraph.plugins import load_plugins
from goalgraph.registry import FactKind
from goalgraph.runtime import open_runtime
from goalgraph.settings import Settings

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_UNREADABLE = 2
EXIT_DATABASE = 3

#: Problems printed one by one; the rest are counted (and all go to the rejects file).
MAX_SHOWN = 50
MAX_BATCH_SIZE = 100_000
#: Batches read ahead of the one being written (bounds memory).
READ_AHEAD = 1
#: PostgreSQL, one transaction per batch: connections writing batches at the same time (commits stay
#: in file order). One PostgreSQL backend is the bottleneck of a large import, so two share its work.
WRITERS = 2
#: A batch whose timestamps span more days than this marks every day stale (listing them costs more).
MAX_MARKED_DAYS = 400
#: Kinds whose batch may be written while the batch before it is: their references point only at kinds
#: of earlier batches, which are committed before a batch of another kind starts.
CONCURRENT_KINDS = frozenset({Kind.DEAL, Kind.ACTIVITY})


# -- what a run counts --------------------------------------------------------------------------
@dataclass
class Tally:
    """Rows of one kind: read, and what became of them."""

    read: int = 0
    created: int = 0
    updated: int = 0
    #: Older than the stored version, or superseded by a newer copy in the same batch.
    ignored: int = 0
    rejected: int = 0

    def add_counts(self, counts: UpsertCounts) -> None:
        self.created += counts.created
        self.updated += counts.updated
        self.ignored += counts.ignored
        self.rejected += counts.rejected


@dataclass
class FileReport:
    """How one input file went."""

    source: Source
    rows: int = 0
    rejected: int = 0
    first_line: int | None = None
    last_line: int | None = None
    #: Last line of the last batch committed (default mode only).
    committed_through: int | None = None
    #: Why the file stopped part-way (unreadable, database error), if it did.
    stopped: str | None = None
    done: bool = False


@dataclass
class ImportReport:
    """Everything a run did; :func:`import_files` returns it and the CLI prints it."""

    files: list[FileReport] = field(default_factory=list)
    tallies: dict[Kind | None, Tally] = field(default_factory=dict)
    stage_changes: int = 0
    mode: str = "batches"  # batches | all-or-nothing | dry-run
    committed: bool = False
    rejects_written: int = 0
    rejects_paths: list[Path] = field(default_factory=list)
    exit_code: int = EXIT_OK
    elapsed: float = 0.0
    fatal: str | None = None
    #: False when the run stopped before reading anything (database unreachable or not migrated).
    started: bool = False

    def tally(self, kind: Kind | None) -> Tally:
        if kind not in self.tallies:
            self.tallies[kind] = Tally()
        return self.tallies[kind]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


# -- reading (in a thread) ----------------------------------------------------------------------
@dataclass
class _Chunk:
    """Consecutive rows of one file, validated; applied (and committed) together."""

    kind: Kind | None = None
    records: list[tuple[FactPath, dict[str, Any]]] = field(default_factory=list)
    stages: list[tuple[FactPath, dict[str, Any]]] = field(default_factory=list)
    errors: list[FactError] = field(default_factory=list)
    #: Rows refused before the database (bad shape or invalid), with their kind.
    bad: dict[int, Kind | None] = field(default_factory=dict)
    raws: dict[int, Any] = field(default_factory=dict)
    read: Counter[Kind | None] = field(default_factory=Counter)
    #: What the reader made ready for the database ahead of the chunk's turn (see Ingestor.prepare).
    prepared: dict[Kind, Prepared] = field(default_factory=dict)
    rows: int = 0
    first_line: int | None = None
    last_line: int | None = None
    position: int = 0
    #: The external ids of the records, for a kind in CONCURRENT_KINDS (two batches written at the same
    #: time must not share one).
    ids: frozenset[str] | None = None

    @property
    def has_records(self) -> bool:
        return bool(self.records or self.stages)


@dataclass
class _Stop:
    """End of a file: cleanly (error None) or because it could not be read further."""

    error: ReadError | BaseException | None = None


class _Parsers(dict):  # type: ignore[type-arg]
    """The core's parsers by kind, and plugin kinds' (readers.parser_of) as they are met."""

    def __init__(self) -> None:
        super().__init__(PARSERS)

    def __missing__(self, kind: Any) -> Any:
        parser = self[kind] = parser_of(kind)
        return parser


class _Reader(threading.Thread):
    """Reads and validates one file into chunks, handing them over through a bounded queue; prepares
    each for its statement when the Ingestor can (:meth:`Ingestor.prepare` reads only its caches)."""

    def __init__(self, source: Source, batch_size: int, keep_raw: bool, received_at: datetime,
                 ingestor: Ingestor | None = None) -> None:
        super().__init__(name=f"goalgraph-import-reader:{source.path.name}", daemon=True)
        self.source = source
        self.batch_size = batch_size
        self.keep_raw = keep_raw
        self.received_at = received_at
        self.queue: queue.Queue[_Chunk | _Stop] = queue.Queue(maxsize=READ_AHEAD)
        self.stopping = threading.Event()
        self.ingestor = ingestor
        #: A chunk is started only when one written before it has reached its statement (see go_on):
        #: the reader then computes while PostgreSQL does, instead of competing for the GIL with the
        #: event loop while it commits, encodes and sends the current batch.
        self.turns = threading.Semaphore(READ_AHEAD)

    def go_on(self) -> None:
        """Called once per chunk taken, when its statement is on its way (or when it is written)."""
        self.turns.release()

    def _wait_turn(self) -> bool:
        while not self.stopping.is_set():
            if self.turns.acquire(timeout=0.2):
                return True
        return False

    def _put(self, item: _Chunk | _Stop) -> bool:
        if isinstance(item, _Chunk) and item.kind in CONCURRENT_KINDS:
            item.ids = frozenset(rec["external_id"] for _, rec in item.records)
        if self.ingestor is not None and isinstance(item, _Chunk) and item.kind is not None and item.records:
            prepared = self.ingestor.prepare(item.kind, item.records)
            if prepared is not None:
                item.prepared[item.kind] = prepared
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        source, batch_size, keep_raw, received_at = self.source, self.batch_size, self.keep_raw, self.received_at
        parsers: Any = _Parsers()
        pipeline_kind = Kind.PIPELINE
        chunk = _Chunk()
        rows = source.rows()
        try:
            for row in rows:
                kind = row.kind
                if kind is not None and kind is not chunk.kind:
                    if chunk.has_records:
                        chunk.position = source.position()
                        if not self._put(chunk) or not self._wait_turn():
                            return
                        chunk = _Chunk()
                    chunk.kind = kind
                line = row.line
                if chunk.first_line is None:
                    chunk.first_line = line
                chunk.last_line = line
                chunk.rows += 1
                chunk.read[kind] += 1
                if keep_raw:
                    chunk.raws[line] = row.raw
                if row.error is not None:
                    chunk.errors.append(row.error)
                    chunk.bad[line] = kind
                else:
                    try:
                        rec = parsers[kind](row.data, (line,), chunk.errors, received_at)  # type: ignore[index]
                    except Exception as exc:  # noqa: BLE001 - one odd row must not stop the import
                        chunk.errors.append(FactError((line,), f"could not be validated ({type(exc).__name__}: "
                                                               f"{exc}); please report this as a bug"))
                        rec = None
                    if rec is None:
                        chunk.bad[line] = kind
                    elif kind is pipeline_kind:
                        pipeline, stages = rec
                        chunk.records.append(((line,), pipeline))
                        chunk.stages.extend(((line, "stages", j), s) for j, s in enumerate(stages))
                        chunk.read[Kind.STAGE] += len(stages)
                    else:
                        chunk.records.append(((line,), rec))
                if chunk.rows >= batch_size:
                    chunk.position = source.position()
                    if not self._put(chunk) or not self._wait_turn():
                        return
                    chunk = _Chunk(kind=kind)
            chunk.position = source.size
            if self._put(chunk):
                self._put(_Stop())
        except ReadError as exc:
            chunk.position = source.position()
            if self._put(chunk):
                self._put(_Stop(exc))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises
            self._put(_Stop(exc))
        finally:
            rows.close()

    def next_item(self) -> _Chunk | _Stop | None:
        """The next chunk or the _Stop item, waiting for it; None once :meth:`stop` was called."""
        while not self.stopping.is_set():
            try:
                return self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    def stop(self) -> None:
        self.stopping.set()


# -- rejected rows ------------------------------------------------------------------------------
class RejectsWriter:
    """Writes rejected rows so they can be fixed and imported again.

    A ``.csv`` rejects file gets the header and the rejected rows as they were (possible only when
    every input is a CSV file with the same kind and header). A ``.ndjson``/``.jsonl`` file gets one
    object per rejected row, with its ``kind``: NDJSON lines as they were, CSV rows converted.
    A further ``.gz`` compresses it. The file is created (or emptied) when the import starts and
    removed at the end if no row was rejected.
    """

    def __init__(self, path: Path, sources: Sequence[Source]) -> None:
        self.path = path
        name = path.name.lower()
        self.compressed = name.endswith(".gz")
        base = name[:-3] if self.compressed else name
        suffix = Path(base).suffix
        if suffix == ".csv":
            layouts = {(s.format, s.kind, tuple(s.header)) for s in sources}
            if len(layouts) != 1 or next(iter(layouts))[0] != CSV:
                raise ImportUsageError(
                    f"--rejects {path}: a CSV rejects file needs every input to be a CSV file of one kind with "
                    f"the same columns; use a .ndjson rejects file instead (any input converts to NDJSON)"
                )
            self.format = CSV
        elif suffix in {".ndjson", ".jsonl"}:
            self.format = NDJSON
        else:
            raise ImportUsageError(f"--rejects {path}: name it .csv or .ndjson (optionally .gz) to choose its format")
        for source in sources:
            if _same_file(source.path, path):
                raise ImportUsageError(f"--rejects {path} is one of the input files")
        self._fh: IO[Any] | None = None
        self._csv: Any = None
        self.count = 0
        self.failed: str | None = None

    def open(self) -> None:
        """Create (or empty) the file now, so a path that cannot be written stops the command early."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.format == CSV:
                self._fh = (gzip.open(self.path, "wt", encoding="utf-8", newline="") if self.compressed
                            else open(self.path, "w", encoding="utf-8", newline=""))  # noqa: SIM115
            else:
                self._fh = gzip.open(self.path, "wb") if self.compressed else open(self.path, "wb")  # noqa: SIM115
        except OSError as exc:
            raise ImportUsageError(f"--rejects {self.path}: {exc.strerror or exc}") from None

    def write(self, source: Source, rows: list[tuple[int, Kind | None, Any]]) -> None:
        if self._fh is None:
            self.open()
        assert self._fh is not None
        for _line, kind, raw in rows:
            if raw is None:
                continue  # an over-long line: not kept
            if self.format == CSV:
                if self._csv is None:
                    self._csv = csv.writer(self._fh, delimiter=source.delimiter, lineterminator="\n")
                    self._csv.writerow(source.header)
                self._csv.writerow(raw)
            elif source.format == NDJSON:
                self._fh.write(_ndjson_reject(raw, source.kind) + b"\n")
            else:
                self._fh.write(orjson.dumps(_csv_row_as_object(source, kind, raw)) + b"\n")
            self.count += 1

    def close(self) -> None:
        """Close the file; remove it when no row was rejected (so it exists only when there is work)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            if self.count == 0:
                self.path.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _ndjson_reject(raw: bytes, default_kind: Kind | None) -> bytes:
    """The line as it was; a row that took its kind from --kind gets it written in."""
    if default_kind is None:
        return raw
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if isinstance(obj, dict) and "kind" not in obj:
        return orjson.dumps({"kind": default_kind.value, **obj})
    return raw


def _csv_row_as_object(source: Source, kind: Kind | None, cells: list[str]) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": (kind or source.kind or Kind.DEAL).value}
    attributes: dict[str, str] = {}
    for name, cell in zip(source.header, cells):
        if cell == "":
            continue
        if name.startswith("attributes."):
            attributes[name[len("attributes."):]] = cell
        else:
            obj[name] = cell
    if attributes:
        obj["attributes"] = attributes
    if len(cells) > len(source.header):
        obj["_extra_cells"] = cells[len(source.header):]
    return obj


# -- output -------------------------------------------------------------------------------------
class Reporter:
    """Errors and progress on stderr, the summary on stdout; plain text when not on a terminal."""

    def __init__(self, *, progress: bool, max_shown: int | None = None) -> None:
        self.err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
        self.out = Console(highlight=False, soft_wrap=True, emoji=False)
        self.max_shown = MAX_SHOWN if max_shown is None else max_shown
        self.shown = 0
        self.hidden = 0
        self.progress: Progress | None = None
        if progress:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=24),
                TaskProgressColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f}/s"),
                TimeRemainingColumn(),
                console=self.err,
            )

    def __enter__(self) -> "Reporter":
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def add_file(self, source: Source) -> TaskID | None:
        if self.progress is None:
            return None
        name = source.path.name
        name = name if len(name) <= 28 else name[:12] + "…" + name[-15:]
        return self.progress.add_task(name, total=max(source.size, 1), rows=0, rate=0.0)

    def advance(self, task: TaskID | None, position: int, rows: int, started: float) -> None:
        if self.progress is None or task is None:
            return
        elapsed = max(time.perf_counter() - started, 1e-6)
        self.progress.update(task, completed=position, rows=rows, rate=rows / elapsed)

    def problem(self, source: Source, error: FactError) -> None:
        if self.shown >= self.max_shown:
            self.hidden += 1
            return
        self.shown += 1
        self.err.print(Text(format_error(source, error)))

    def message(self, text: str) -> None:
        self.err.print(Text(text))

    def summary(self, report: ImportReport) -> None:
        if self.hidden:
            where = (f"; every rejected row is in {', '.join(map(str, report.rejects_paths))}"
                     if report.rejects_paths else "; use --rejects FILE to collect every rejected row")
            self.err.print(Text(f"… and {self.hidden:,} more problem(s) not shown{where}"))
        for line in summary_lines(report, rich_table=self.out.is_terminal):
            self.out.print(line)


def format_error(source: Source, error: FactError) -> str:
    """``FILE:LINE: field: message`` (``FILE:LINE: message`` for a row that could not be read)."""
    path = error.path
    line = path[0] if path else "?"
    where = ".".join(str(p) for p in path[1:])
    return f"{source.name}:{line}: {where}: {error.message}" if where else f"{source.name}:{line}: {error.message}"


_COLUMNS = ("kind", "read", "created", "updated", "ignored (stale)", "rejected")


def summary_lines(report: ImportReport, *, rich_table: bool = False) -> list[Any]:
    """The end-of-run summary: per-file lines, a per-kind table and the outcome."""
    out: list[Any] = []
    for f in report.files:
        if f.first_line is None or f.last_line is None:
            span = ""
        elif f.first_line == f.last_line:
            span = f" (line {f.first_line:,})"
        else:
            span = f" (lines {f.first_line:,}–{f.last_line:,})"
        line = f"{f.source.name}: {f.rows:,} row(s) read{span}, {f.rejected:,} rejected"
        if f.stopped:
            line += f"; STOPPED: {f.stopped}"
        elif not f.done:
            line += "; not read"
        out.append(line)
    kinds = [k for k in Kind if k in report.tallies] + [k for k in report.tallies if isinstance(k, FactKind)]
    kinds += [None] if None in report.tallies else []
    rows = []
    total = Tally()
    for kind in kinds:
        t = report.tallies[kind]
        rows.append((kind.value if kind else "(no kind)", t.read, t.created, t.updated, t.ignored, t.rejected))
        for name in ("read", "created", "updated", "ignored", "rejected"):
            setattr(total, name, getattr(total, name) + getattr(t, name))
    rows.append(("total", total.read, total.created, total.updated, total.ignored, total.rejected))
    if report.mode == "dry-run":
        title = "Dry run — nothing was written; this is what the import would do"
    elif report.mode == "all-or-nothing" and not report.committed:
        title = "All or nothing — rolled back, these counts were NOT loaded"
    else:
        title = "Facts"
    if rich_table:
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for i, name in enumerate(_COLUMNS):
            table.add_column(name, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(r[0], *(f"{n:,}" for n in r[1:]), style="bold" if r[0] == "total" else None)
        out.append(table)
    else:
        out.append(f"{title}:")
        cells = [_COLUMNS] + [(r[0], *(f"{n:,}" for n in r[1:])) for r in rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
        for c in cells:
            out.append("  " + "  ".join(c[0].ljust(widths[0]) if i == 0 else c[i].rjust(widths[i])
                                        for i in range(len(c))).rstrip())
    out.append(f"stage changes recorded: {report.stage_changes:,}")
    rate = report.rows / report.elapsed if report.elapsed > 0 else 0.0
    out.append(f"{report.rows:,} row(s) in {report.elapsed:.1f} s ({rate:,.0f} rows/s)")
    if report.rejects_written:
        out.append(f"{report.rejects_written:,} rejected row(s) written to {report.rejects_paths[0]}")
    out.append(outcome(report))
    return out


def outcome(report: ImportReport) -> str:
    """One sentence: what was loaded and what was not."""
    rejected = report.rejected
    if report.fatal:
        if report.mode == "batches":
            landed = [f"{f.source.name} up to line {f.committed_through:,}" for f in report.files
                      if f.committed_through is not None]
            committed = ("Committed before it stopped: " + ", ".join(landed) + ".") if landed else \
                "Nothing was committed."
            return f"IMPORT STOPPED: {report.fatal}. {committed} Nothing after that was loaded."
        return f"IMPORT STOPPED: {report.fatal}. Nothing was loaded (the transaction was rolled back)."
    if report.mode == "dry-run":
        verdict = f"{rejected:,} row(s) would be rejected." if rejected else "Every row would load."
        return f"Dry run: nothing was written. {verdict}"
    if report.mode == "all-or-nothing":
        if not report.committed:
            return (f"Nothing was loaded: {rejected:,} row(s) were rejected and --all-or-nothing rolled back the "
                    f"whole import. Fix them and import the file(s) again.")
        return f"Loaded all {report.rows:,} row(s) in one transaction."
    if rejected:
        return (f"Loaded {report.rows - rejected:,} row(s); {rejected:,} row(s) were rejected and not loaded "
                f"(fix them and import them again; re-importing loaded rows is harmless).")
    return f"Loaded all {report.rows:,} row(s)."


# -- the run ------------------------------------------------------------------------------------
async def import_files(
    settings: Settings,
    sources: Sequence[Source],
    *,
    batch_size: int = 5000,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    rejects: RejectsWriter | None = None,
    reporter: Reporter | None = None,
) -> ImportReport:
    """Import already-opened sources; returns the report (not yet printed)."""
    reporter = reporter or Reporter(progress=False)
    report = ImportReport(mode="dry-run" if dry_run else "all-or-nothing" if all_or_nothing else "batches")
    report.files = [FileReport(source) for source in sources]
    if rejects is not None:
        report.rejects_paths = [rejects.path]
    per_batch = report.mode == "batches"
    received_at = clock.now()
    started = time.perf_counter()
    try:
        async with open_runtime(settings, listen=False) as runtime:
            state = await runtime.database_state()
            if not state.get("ok"):
                report.fatal = f"cannot reach the database: {state.get('error')}"
            elif state.get("revision") is None:
                report.fatal = "the database has no goalgraph tables yet; run `goalgraph migrate` first"
            else:
                report.started = True
                await _run(report, runtime, per_batch=per_batch, dry_run=dry_run, batch_size=batch_size,
                           rejects=rejects, reporter=reporter, received_at=received_at)
    except Exception as exc:  # noqa: BLE001 - before the run started: reported as "cannot open"
        if report.started:
            raise
        report.fatal = f"cannot open the database: {_db_message(exc)}"
    if not report.started:
        report.exit_code = EXIT_UNREADABLE
        return report
    if per_batch and not report.fatal:
        report.committed = True
    report.elapsed = time.perf_counter() - started
    if report.exit_code == EXIT_OK and report.rejected:
        report.exit_code = EXIT_REJECTED
    return report


async def _run(
    report: ImportReport,
    runtime: Any,
    *,
    per_batch: bool,
    dry_run: bool,
    batch_size: int,
    rejects: RejectsWriter | None,
    reporter: Reporter,
    received_at: datetime,
) -> None:
    announcer = _Announcer(runtime, reporter)
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(runtime.sessions())
        ingestor = Ingestor(session, lenient=True)
        writers = [_Writer(session, ingestor)]
        if per_batch and session.bind.dialect.name == "postgresql":
            for _ in range(WRITERS - 1):
                other = await stack.enter_async_context(runtime.sessions())
                writers.append(_Writer(other, Ingestor(other, lenient=True, caches=ingestor.caches)))
        try:
            for file_report in report.files:
                ok = await _import_file(file_report, report, writers, per_batch=per_batch,
                                        batch_size=batch_size, rejects=rejects, reporter=reporter,
                                        received_at=received_at, announcer=announcer)
                if not ok:
                    break
            if per_batch or report.fatal or dry_run or report.rejected:
                # Batch mode has nothing pending; otherwise this undoes the whole run.
                await session.rollback()
                announcer.discard()
            else:
                announced = await announcer.before_commit(session, IngestSummary(), ingestor.take_effect(),
                                                          final=True)
                await session.commit()
                report.committed = True
                await announcer.committed(announced)
        except SQLAlchemyError as exc:
            report.fatal = f"database error while finishing: {_db_message(exc)}"
            report.exit_code = EXIT_DATABASE
            await _safe_rollback(session)
        finally:
            if rejects is not None:
                rejects.close()
                report.rejects_written = rejects.count
    await announcer.finish()


async def _safe_rollback(session: Any) -> None:
    try:
        await session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the error is already reported
        pass


def _db_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(orig or exc).__name__}: {text[0] if text else ''}"


@dataclass
class _Writer:
    """A connection (session) batches are written over, with its Ingestor (they share the id caches)."""

    session: Any
    ingestor: Ingestor


class _Abandoned(Exception):
    """The batch before this one failed: this one was rolled back, never committed."""


class _Batch:
    """A chunk being written (and, in batch mode, committed) by a task on one writer.

    Its commit waits for the batch before it (``previous``) to have committed, and is abandoned if
    that one failed: commits happen in file order, so "committed through line N" stays exact."""

    def __init__(self, chunk: _Chunk, writer: _Writer) -> None:
        self.chunk = chunk
        self.writer = writer
        self.committed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[tuple[list[FactError], IngestSummary]] | None = None

    def done(self, ok: bool) -> None:
        if not self.committed.done():
            self.committed.set_result(ok)

    def may_overlap(self, chunk: _Chunk) -> bool:
        """Whether ``chunk`` may be written while this batch is: the same concurrent kind, no id in common
        (so neither waits for the other's row locks, and each sees the rows as the file order has them)."""
        return (chunk.kind is self.chunk.kind and chunk.ids is not None and self.chunk.ids is not None
                and chunk.ids.isdisjoint(self.chunk.ids))


async def _import_file(
    file_report: FileReport,
    report: ImportReport,
    writers: list[_Writer],
    *,
    per_batch: bool,
    batch_size: int,
    rejects: RejectsWriter | None,
    reporter: Reporter,
    received_at: datetime,
    announcer: _Announcer,
) -> bool:
    """Read, validate and apply one file. False when the run must stop.

    The reader thread parses and validates the next chunk and makes it ready for its statement
    (:meth:`Ingestor.prepare`) while the event loop writes the current one. With several writers
    (PostgreSQL, batch mode) a deal or activity batch that shares no id with the batch being written
    is written at the same time over the other connection; its commit follows the earlier one's."""
    source = file_report.source
    task_id = reporter.add_file(source)
    started = time.perf_counter()
    reader = _Reader(source, batch_size, rejects is not None, received_at, writers[0].ingestor)
    reader.start()
    inflight: deque[_Batch] = deque()

    async def finish(batch: _Batch) -> bool:
        """Wait for the oldest batch and account for it; False (reported) when it failed."""
        chunk = batch.chunk
        assert batch.task is not None
        try:
            ref_errors, summary = await batch.task
        except (SQLAlchemyError, OSError, RetriesExhausted, _Abandoned) as exc:
            await _safe_rollback(batch.writer.session)
            batch.writer.ingestor.forget()
            announcer.discard()
            lines = f"lines {chunk.first_line:,}–{chunk.last_line:,}" if chunk.first_line else "the last batch"
            message = f"database error in {source.name} {lines}: {_db_message(exc)}"
            file_report.stopped = message
            report.fatal = message
            report.exit_code = EXIT_DATABASE
            reporter.message(message)
            return False
        for kind, counts in summary.counts.items():
            if counts.created or counts.updated or counts.ignored or counts.rejected:
                report.tally(kind).add_counts(counts)
        for key, counts in summary.plugin_counts.items():
            report.tally(chunk.kind if isinstance(chunk.kind, FactKind) and chunk.kind.key == key
                         else key).add_counts(counts)  # type: ignore[arg-type]
        report.stage_changes += summary.stage_changes
        if not (per_batch and chunk.has_records):
            announcer.add(summary)  # committed with the run (or never: dry run)
        _account(chunk, ref_errors, file_report, report, rejects, reporter)
        if per_batch and chunk.last_line is not None:
            file_report.committed_through = chunk.last_line
        reporter.advance(task_id, chunk.position, file_report.rows, started)
        return True

    async def finish_all() -> bool:
        while inflight:
            if not await finish(inflight.popleft()):
                return False
        return True

    try:
        while True:
            # Waiting in a thread while batches are being written, so their tasks keep running.
            item = await asyncio.to_thread(reader.next_item) if inflight else reader.next_item()
            if item is None:  # pragma: no cover - the reader stops only when this loop has ended
                return False
            if isinstance(item, _Stop):
                if not await finish_all():
                    return False
                if item.error is None:
                    file_report.done = True
                    return True
                if isinstance(item.error, ReadError):
                    where = f"{source.name}:{item.error.line}"
                    file_report.stopped = f"{where}: {item.error.message}"
                    report.fatal = f"{where}: {item.error.message}"
                    report.exit_code = EXIT_UNREADABLE
                    reporter.message(f"{where}: {item.error.message}")
                    return False
                raise item.error
            chunk = item
            if not all(b.may_overlap(chunk) for b in inflight) and not await finish_all():
                return False
            while len(inflight) >= len(writers):
                if not await finish(inflight.popleft()):
                    return False
            busy = {id(b.writer) for b in inflight}
            writer = next(w for w in writers if id(w) not in busy)
            batch = _Batch(chunk, writer)
            batch.task = asyncio.create_task(_write_batch(
                batch, inflight[-1] if inflight else None, reader, per_batch=per_batch, announcer=announcer,
                what=f"import {source.name}"))
            inflight.append(batch)
    finally:
        pending = [b.task for b in inflight if b.task is not None]
        for b in inflight:
            b.done(False)  # a batch still waiting to commit gives up
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        reader.stop()
        reader.join(timeout=5)


async def _write_batch(batch: _Batch, previous: _Batch | None, reader: _Reader, *, per_batch: bool,
                       announcer: "_Announcer", what: str) -> tuple[list[FactError], IngestSummary]:
    """Write one batch on its writer; in batch mode commit it (retried as a whole) after ``previous``."""
    chunk, ingestor = batch.chunk, batch.writer.ingestor
    prepared = chunk.prepared
    chunk.prepared = {}
    turn = _Turn(reader)
    ingestor.on_statement = turn.give
    try:
        if per_batch and chunk.has_records:
            result = await retrying(
                lambda: _apply_and_commit(chunk, batch.writer, announcer, prepared, previous),
                what=what, disconnects=True)
        else:
            result = await _apply(chunk, ingestor, prepared)
            if previous is not None and not await asyncio.shield(previous.committed):
                raise _Abandoned("the batch before it failed")
    except BaseException:
        batch.done(False)
        raise
    finally:
        ingestor.on_statement = None
        turn.give()
    batch.done(True)
    return result


class _Turn:
    """Lets the reader start its next chunk once per chunk taken: at the chunk's first statement, or
    when it has been written."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.given = False

    def give(self) -> None:
        if not self.given:
            self.given = True
            self.reader.go_on()


async def _apply_and_commit(chunk: _Chunk, writer: _Writer, announcer: "_Announcer",
                            prepared: dict[Kind, Prepared],
                            previous: _Batch | None) -> tuple[list[FactError], IngestSummary]:
    """One batch as one transaction (retried as a whole by the caller): write; once the batch before it
    has committed, announce (:meth:`_Announcer.before_commit`, the one hook inside the transaction)
    and commit."""
    session, ingestor = writer.session, writer.ingestor
    try:
        ingestor.take_effect()  # nothing left over from a rolled-back attempt
        ref_errors, summary = await _apply(chunk, ingestor, prepared, announcer.runtime.registry)
        if previous is not None and not await asyncio.shield(previous.committed):
            raise _Abandoned("the batch before it failed")
        announced = await announcer.before_commit(session, summary, ingestor.take_effect())
        await session.commit()
    except BaseException:
        await _safe_rollback(session)
        ingestor.forget()  # ids cached during the rolled-back attempt may not exist
        raise
    announcer.add(summary)
    await announcer.committed(announced)
    return ref_errors, summary


async def _apply(chunk: _Chunk, ingestor: Ingestor, prepared: dict[Kind, Prepared],
                 registry: Any = None) -> tuple[list[FactError], IngestSummary]:
    """Write the chunk's records (``prepared`` ahead where that was possible); their reference
    problems and what they did (not yet committed)."""
    summary = IngestSummary()
    if not chunk.has_records:
        return [], summary
    assert chunk.kind is not None
    errors: list[FactError] = []
    if isinstance(chunk.kind, FactKind):  # a plugin's kind: the pipeline's generic writer, marks in this transaction
        written = await write_records(ingestor.session, registry, chunk.kind, chunk.records, errors)
        summary.plugin_counts[chunk.kind.key] = UpsertCounts(written.created, written.updated, written.ignored)
        if written.written and not errors:
            await mark_effect(ingestor.session, FactEffect(frozenset(written.owners), set(written.days)))
        return errors, summary
    parts = [(chunk.kind, chunk.records)]
    if chunk.kind is Kind.PIPELINE:
        parts.append((Kind.STAGE, chunk.stages))
    for kind, records in parts:
        counts, changes, kind_errors = await ingestor.apply(kind, records, prepared.get(kind))
        summary.counts[kind].add(counts)
        summary.stage_changes += changes
        errors.extend(kind_errors)
    return errors, summary


def store_effect(effect: BatchEffect) -> FactEffect:
    """The progress store's view of what a batch touched: its owners (None: anyone's) and the UTC days
    from its earliest to its latest timestamp (None: any day, when that span is long or unknown)."""
    owners = None if effect.owners is None else frozenset(effect.owners)
    days: set[Any] | None = None
    if owners is not None and effect.first is not None and effect.last is not None:
        first, last = (moment.astimezone(timezone.utc).date() for moment in (effect.first, effect.last))
        if (last - first).days <= MAX_MARKED_DAYS:
            days = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    return FactEffect(owners, days)


class _Announcer:
    """Tell the rest of goalgraph as the ``ingestFacts`` mutation does: the ``goalgraph_facts_ingested``
    hook for each committed transaction (:func:`~goalgraph.live.changes.facts_committed`), a
    facts-changed event for live subscribers inside a committing transaction (at most every few
    seconds during a long import, and once at the end), and one check of the goals' statuses at the
    end (``goalgraph_goal_status_changed``)."""

    PUBLISH_EVERY = 5.0

    def __init__(self, runtime: Any, reporter: Reporter) -> None:
        self.runtime = runtime
        self.reporter = reporter
        self.pending = IngestSummary()
        self.committed_any = False
        self.unpublished = False
        self.last_publish = time.monotonic()

    def add(self, summary: IngestSummary) -> None:
        self.pending.add(summary)

    def discard(self) -> None:
        self.pending = IngestSummary()

    async def before_commit(self, session: Any, summary: IngestSummary, effect: BatchEffect, *,
                            final: bool = False) -> bool:
        """Inside the transaction about to commit — called exactly once per committed transaction of an
        import, on whichever connection wrote it: announce the change when one is due (always when
        ``final``). True when it announced (pass it to :meth:`committed`).

        ``summary`` counts what the transaction did (empty for the ``final`` one, whose batches were
        added before); ``effect`` is what its writes touched (:class:`~goalgraph.ingest.upsert.BatchEffect`:
        kinds written, the internal ids of the users credited before and after, the earliest and
        latest timestamp, old and new values): work that must commit with the facts — marking what
        they change stale — belongs here. Calls come one at a time, in commit order, after the batch
        before has committed, so that work never waits for locks held by a batch on the other
        connection.
        """
        if effect.written:
            # The store learns in the batch's own transaction: the owners and days the batch touched.
            await mark_effect(session, store_effect(effect))
        written = any(c.written for part in (summary, self.pending) for c in part.counts.values())
        if written and (final or time.monotonic() - self.last_publish >= self.PUBLISH_EVERY):
            await self.runtime.broker.announce(session, FactsChanged(None))
            return True
        return False

    async def committed(self, announced: bool) -> None:
        summary, self.pending = self.pending, IngestSummary()
        if announced:
            self.last_publish = time.monotonic()
            self.unpublished = False
        if not any(c.written for c in summary.counts.values()):
            return
        self.committed_any = True
        self.unpublished = self.unpublished or not announced
        facts_committed(self.runtime, summary)

    async def _publish(self) -> None:
        """A last announcement in a transaction of its own (the facts are stored whatever happens here)."""
        self.last_publish = time.monotonic()
        self.unpublished = False
        try:
            async with self.runtime.sessions() as session, session.begin():
                await self.runtime.broker.announce(session, FactsChanged(None))
        except Exception as exc:  # noqa: BLE001 - the facts are stored; only the announcement failed
            self.reporter.message(f"goalgraph import: could not announce the change to live subscribers: {exc}")

    async def finish(self) -> None:
        """Final announcements; waits for the hooks so none is cut off when the command exits."""
        if self.unpublished:
            await self._publish()
        if self.committed_any and self.runtime.status_watch is not None:
            try:
                await self.runtime.status_watch.check(None)
            except Exception as exc:  # noqa: BLE001 - as above
                self.reporter.message(f"goalgraph import: could not check the goals' statuses: {exc}")
        await drain()


def _account(
    chunk: _Chunk,
    ref_errors: list[FactError],
    file_report: FileReport,
    report: ImportReport,
    rejects: RejectsWriter | None,
    reporter: Reporter,
) -> None:
    """Count the chunk's rows, print its problems in line order, write its rejected rows."""
    for kind, n in chunk.read.items():
        report.tally(kind).read += n
    for kind in chunk.bad.values():
        report.tally(kind).rejected += 1
    file_report.rows += chunk.rows
    if chunk.first_line is not None and file_report.first_line is None:
        file_report.first_line = chunk.first_line
    if chunk.last_line is not None:
        file_report.last_line = chunk.last_line
    rejected: dict[int, Kind | None] = dict(chunk.bad)
    for error in ref_errors:
        rejected.setdefault(int(error.path[0]), chunk.kind)
    file_report.rejected += len(rejected)
    problems = chunk.errors + ref_errors if ref_errors else chunk.errors
    if ref_errors:
        problems.sort(key=lambda e: e.path[0])  # stable: a row's own problems keep their order
    for error in problems:
        reporter.problem(file_report.source, error)
    if rejects is not None and rejected and rejects.failed is None:
        try:
            rejects.write(file_report.source,
                          [(line, rejected[line], chunk.raws.get(line)) for line in sorted(rejected)])
        except (OSError, ImportUsageError) as exc:
            rejects.failed = str(exc)
            reporter.message(f"goalgraph import: cannot write the rejects file {rejects.path}: {exc}; "
                             f"rejected rows are still reported here")


def prepare(
    files: Sequence[Path], *, kind: str | None, batch_size: int, rejects: Path | None, registry: Any = None,
) -> tuple[list[Source], RejectsWriter | None]:
    """Check the command line and every file's format, kind and header before anything is loaded.

    Raises :class:`ImportUsageError` naming the problem.
    """
    if not files:
        raise ImportUsageError("no files given")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ImportUsageError(f"--batch-size {batch_size}: use 1–{MAX_BATCH_SIZE:,}")
    extra = plugin_kinds(registry)
    default_kind = parse_kind_option(kind, extra)
    sources = [open_source(Path(f), default_kind, extra) for f in files]
    writer = RejectsWriter(Path(rejects), sources) if rejects is not None else None
    if writer is not None:
        writer.open()
    return sources, writer


def run_import(
    settings: Settings,
    files: Sequence[Path],
    *,
    kind: str | None = None,
    batch_size: int = 5000,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    rejects: Path | None = None,
    reporter: Reporter | None = None,
) -> ImportReport:
    """Import files and return the report without printing its summary (problems still go to
    the reporter as they are found). Raises :class:`ImportUsageError` before loading anything
    when the command line or a file's format, kind or header is wrong."""
    # Plugins' fact kinds (tickets, quotes …) are read with the declared fields of the kinds they register.
    registry = load_plugins(strict=settings.strict_plugins).registry
    sources, writer = prepare(files, kind=kind, batch_size=batch_size, rejects=rejects, registry=registry)
    reporter = reporter or Reporter(progress=False)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # hand the GIL back quickly when a database reply arrives
    try:
        with reporter:
            return asyncio.run(import_files(
                settings, sources, batch_size=batch_size, all_or_nothing=all_or_nothing, dry_run=dry_run,
                rejects=writer, reporter=reporter,
            ))
    finally:
        sys.setswitchinterval(switch)
        if writer is not None:
            writer.close()


def import_command(
    settings: Settings,
    files: Sequence[Path],
    *,
    kind: str | None = None,
    batch_size: int = 5000,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    rejects: Path | None = None,
    progress: bool = False,
) -> int:
    """Run ``goalgraph import``: print problems and a summary, return the exit code."""
    reporter = Reporter(progress=progress)
    try:
        report = run_import(settings, files, kind=kind, batch_size=batch_size, all_or_nothing=all_or_nothing,
                            dry_run=dry_run, rejects=rejects, reporter=reporter)
    except ImportUsageError as exc:
        reporter.message(f"goalgraph import: {exc}")
        reporter.message("Nothing was loaded.")
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        reporter.message("goalgraph import: interrupted. Batches committed before the interruption stay loaded "
                         "(unless --all-or-nothing or --dry-run); importing the file again is safe: rows are "
                         "matched on their ids.")
        return 130
    if not report.started:
        reporter.message(f"goalgraph import: {report.fatal}")
        reporter.message("Nothing was loaded.")
        return report.exit_code
    reporter.summary(report)
    return report.exit_code


__all__ = [
    "EXIT_DATABASE",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_UNREADABLE",
    "ImportReport",
    "RejectsWriter",
    "Reporter",
    "import_command",
    "import_files",
    "prepare",
    "run_import",
]
