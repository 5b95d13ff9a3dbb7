"""Stream facts out of NDJSON and CSV files (optionally gzip-compressed), row by row.

Nothing here reads a whole file: rows come out one at a time with the 1-based physical
line they start on, so every problem can be reported as ``FILE:LINE: field: message``.
Only the file's *shape* is checked here (JSON syntax, one object per line, a known kind,
the CSV header and column counts); the facts themselves are validated by
:mod:`goalgraph.ingest.validate`, the same code the GraphQL mutation uses.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Union

import orjson

from goalgraph import clock
from goalgraph.errors import FactError
from goalgraph.ingest.kinds import parse_record
from goalgraph.ingest.validate import PARSERS, Kind
from goalgraph.registry import FactKind

NDJSON = "ndjson"
CSV = "csv"

#: File name endings and the format they mean (a further ``.gz`` means gzip-compressed).
SUFFIXES = {".ndjson": NDJSON, ".jsonl": NDJSON, ".csv": CSV}

#: A longer NDJSON line is refused (and skipped) instead of being held in memory.
MAX_LINE_BYTES = 1 << 20

#: CSV columns a file of that kind may not have, and why.
_CSV_UNSUPPORTED = {
    Kind.PIPELINE: {"stages": "nested stages are not supported in CSV: put them in a stages CSV file "
                              "(id, pipeline_id, name, position, probability) or use NDJSON"},
    Kind.DEAL: {"stage_history": "stage_history is not supported in CSV; use NDJSON for deals with history"},
}

_KINDS_TEXT = ", ".join(k.value for k in Kind)
_AMOUNT_FIELDS = ("value", "cost")


class ImportUsageError(Exception):
    """A file cannot be imported at all (unknown format, no kind, bad header …): nothing is read."""


class ReadError(Exception):
    """A file stopped being readable part-way (corrupt gzip data, broken CSV quoting …)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


#: A kind of row: the core's, or a plugin's fact kind (goalgraph.registry.FactKind).
AnyKind = Union[Kind, FactKind]


def plugin_kinds(registry: Any) -> dict[str, FactKind]:
    """Plugin fact kinds (not the core's own deals and activities) by key and batch key, for file rows."""
    kinds = [k for k in registry.fact_kinds.values() if not k.builtin] if registry is not None else []
    return {name: k for k in kinds for name in (k.key, k.plural)}


def parser_of(kind: AnyKind) -> Any:
    """The validator of a row of ``kind`` (the ``PARSERS`` signature: raw, path, errors, received_at)."""
    if isinstance(kind, FactKind):
        return lambda raw, path, errors, received_at: parse_record(kind, raw, path, errors, received_at)
    return PARSERS[kind]


def _kind(text: str, extra: Mapping[str, FactKind]) -> AnyKind | None:
    try:
        return Kind.parse(text)
    except ValueError:
        return extra.get(text.strip().lower())


def _kinds_text(extra: Mapping[str, FactKind]) -> str:
    return ", ".join([_KINDS_TEXT, *sorted({k.key for k in extra.values()})])


def kind_from_name(text: str, extra: Mapping[str, FactKind] | None = None) -> AnyKind | None:
    """``deals.csv`` / ``deals-2026.csv`` / ``Deals_march.csv`` → deal (``tickets.csv`` → a plugin's ticket);
    None when the name says nothing."""
    head = re.split(r"[-_. ]", text, maxsplit=1)[0]
    return _kind(head, extra or {})


def parse_kind_option(text: str | None, extra: Mapping[str, FactKind] | None = None) -> AnyKind | None:
    if text is None:
        return None
    kind = _kind(text, extra or {})
    if kind is None:
        raise ImportUsageError(f"--kind {text!r} is not a kind of fact; use one of {_kinds_text(extra or {})}")
    return kind


@dataclass(slots=True)
class RawRow:
    """One row of an input file, before validation."""

    #: 1-based physical line the row starts on (the CSV header is line 1).
    line: int
    #: The row's kind, or None when it could not be told (the row then has an ``error``).
    kind: "AnyKind | None"
    #: The fact's fields (snake_case, ``kind`` removed), or None when the row could not be read.
    data: dict[str, Any] | None
    #: The row as it was in the file: the line's bytes (NDJSON) or its cells (CSV); for rejects files.
    raw: bytes | list[str] | None
    #: A problem with the row's shape found while reading (bad JSON, wrong column count …).
    error: FactError | None = None


@dataclass
class Source:
    """An input file: where it is, its format and (for CSV) its kind and header."""

    path: Path
    format: str
    compressed: bool
    #: CSV: the kind of every row. NDJSON: the kind of rows without a ``kind`` field (from --kind), if any.
    kind: AnyKind | None
    size: int
    header: list[str] = field(default_factory=list)
    delimiter: str = ","
    #: Plugins' fact kinds rows may name (:func:`plugin_kinds`).
    extra_kinds: Mapping[str, FactKind] = field(default_factory=dict)
    #: Bytes of the file (as stored, so compressed bytes for .gz) consumed so far.
    _position: Any = None

    @property
    def name(self) -> str:
        return str(self.path)

    def position(self) -> int:
        try:
            return int(self._position()) if self._position else 0
        except (OSError, ValueError):
            return 0

    # -- reading -----------------------------------------------------------
    def _open_binary(self) -> tuple[IO[bytes], IO[bytes]]:
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by the caller
        self._position = raw.tell
        if self.compressed:
            return raw, gzip.GzipFile(fileobj=raw, mode="rb")
        return raw, raw

    def rows(self) -> Iterator[RawRow]:
        """Every row of the file, in order. Raises :class:`ReadError` if the file breaks part-way."""
        return self._ndjson_rows() if self.format == NDJSON else self._csv_rows()

    def _ndjson_rows(self) -> Iterator[RawRow]:
        raw, stream = self._open_binary()
        default_kind = self.kind
        loads = orjson.loads
        parse_kind = Kind.parse
        kinds: dict[str, AnyKind] = {k.value: k for k in Kind}
        extra = self.extra_kinds
        kinds.update((k.key, k) for k in extra.values())
        deal_kind, exact_amounts = Kind.DEAL, _exact_amounts
        line_no = 0
        try:
            while True:
                try:
                    line = stream.readline(MAX_LINE_BYTES + 1)
                except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
                    raise ReadError(line_no + 1, f"cannot read the file past line {line_no}: {exc}") from None
                if not line:
                    return
                line_no += 1
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    # Skip the rest of the over-long line without keeping it.
                    while True:
                        more = stream.readline(MAX_LINE_BYTES)
                        if not more or more.endswith(b"\n"):
                            break
                    yield RawRow(line_no, None, None, None, FactError(
                        (line_no,), f"line is longer than {MAX_LINE_BYTES:,} bytes; one fact per line is expected"))
                    continue
                if line_no == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                text = line.strip()
                if not text:
                    continue
                try:
                    obj = loads(text)
                except orjson.JSONDecodeError as exc:
                    if line_no == 1 and (text == b"{" or text.startswith(b"[")):
                        raise ReadError(1, "this is a JSON document, not NDJSON: put one JSON object on each line "
                                           "(e.g. jq -c '.[]' FILE > FILE.ndjson)") from None
                    yield RawRow(line_no, None, None, text, FactError((line_no,), f"is not valid JSON: {exc}"))
                    continue
                if type(obj) is not dict:
                    if line_no == 1 and isinstance(obj, list):
                        raise ReadError(1, "this is a JSON array, not NDJSON: put one JSON object on each line "
                                           "(e.g. jq -c '.[]' FILE > FILE.ndjson)")
                    yield RawRow(line_no, None, None, text, FactError(
                        (line_no,), f"must be a JSON object, got {_json_type(obj)}"))
                    continue
                kind_text = obj.pop("kind", None)
                if kind_text is None:
                    kind = default_kind
                    if kind is None:
                        yield RawRow(line_no, None, None, text, FactError(
                            (line_no, "kind"), f"is required (one of {_KINDS_TEXT})", "REQUIRED"))
                        continue
                else:
                    kind = kinds.get(kind_text) if type(kind_text) is str else None
                    if kind is None:
                        try:
                            kind = parse_kind(kind_text) if isinstance(kind_text, str) else None
                        except ValueError:
                            kind = extra.get(kind_text.strip().lower())  # type: ignore[union-attr]
                    if kind is None:
                        yield RawRow(line_no, None, None, text, FactError(
                            (line_no, "kind"), f"{kind_text!r} is not a kind of fact; use one of {_kinds_text(extra)}"))
                        continue
                if kind is deal_kind:
                    exact_amounts(obj, text)
                yield RawRow(line_no, kind, obj, text)
        finally:
            stream.close()
            raw.close()

    def _csv_rows(self) -> Iterator[RawRow]:
        raw, stream = self._open_binary()
        kind = self.kind
        assert kind is not None
        reader = csv.reader(_text_lines(stream), delimiter=self.delimiter)
        width = len(self.header)
        plain: list[tuple[int, str]] = []
        attrs: list[tuple[int, str]] = []
        for i, name in enumerate(self.header):
            if name.startswith("attributes."):
                attrs.append((i, name[len("attributes."):]))
            else:
                plain.append((i, name))
        last = 0
        try:
            try:
                if next(reader, None) is None:  # the header, already checked by open_source
                    return
                last = reader.line_num
                for cells in reader:
                    start, last = last + 1, reader.line_num
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue  # blank line
                    if len(cells) != width:
                        yield RawRow(start, kind, None, cells, FactError(
                            (start,), f"has {len(cells)} field(s); the header has {width}"))
                        continue
                    data = {name: cells[i] for i, name in plain if cells[i] != ""}
                    if attrs:
                        values = {name: cells[i] for i, name in attrs if cells[i] != ""}
                        if values:
                            data["attributes"] = values
                    yield RawRow(start, kind, data, cells)
            except csv.Error as exc:
                raise ReadError(last + 1, f"malformed CSV ({exc}); is a quote left open?") from None
        finally:
            stream.close()
            raw.close()


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines decoded one by one, so a decoding problem names its own line."""
    line_no = 0
    while True:
        try:
            line = stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReadError(line_no + 1, f"cannot read the file past line {line_no}: {exc}") from None
        if not line:
            return
        line_no += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise ReadError(line_no, f"line is longer than {MAX_LINE_BYTES:,} bytes; is this really a CSV file "
                                     "with one row per line?")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReadError(line_no, f"is not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line); "
                                     "save the file as UTF-8") from None
        yield text[1:] if line_no == 1 and text.startswith("\ufeff") else text


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _exact_amounts(obj: dict[str, Any], text: bytes) -> None:
    """Keep JSON-number amounts exact although orjson reads them as binary floats.

    A decimal number of at most 15 significant digits survives the trip through a float:
    ``repr`` gives it back digit for digit, which is what validation reads. Longer ones
    (or exponents) are re-read from the line as :class:`~decimal.Decimal`.
    """
    for name in _AMOUNT_FIELDS:
        value = obj.get(name)
        if type(value) is float:
            digits = repr(value)
            # A float's repr always has a "." (or an "e"): 16 characters hold at most 15 digits.
            if len(digits) > 16 or "e" in digits:
                try:
                    exact = json.loads(text, parse_float=Decimal)
                except ValueError:  # pragma: no cover - orjson accepted it
                    return
                for field_name in _AMOUNT_FIELDS:
                    if type(obj.get(field_name)) is float:
                        obj[field_name] = exact.get(field_name)
                return


def detect_format(path: Path) -> tuple[str, bool, str]:
    """(format, compressed, base name without .gz) from a file name."""
    name = path.name
    compressed = name.lower().endswith(".gz")
    base = name[:-3] if compressed else name
    suffix = Path(base).suffix.lower()
    fmt = SUFFIXES.get(suffix)
    if fmt is None:
        raise ImportUsageError(
            f"{path}: cannot tell the format from the name; use .ndjson or .jsonl (one JSON object per line) "
            f"or .csv, optionally with .gz"
        )
    return fmt, compressed, base


def open_source(path: Path, kind_option: AnyKind | None, extra_kinds: Mapping[str, FactKind] | None = None) -> Source:
    """Check a file can be imported (format, kind, CSV header) without reading its rows.
    ``extra_kinds``: plugins' fact kinds the file may hold (:func:`plugin_kinds`)."""
    extra = dict(extra_kinds or {})
    fmt, compressed, base = detect_format(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportUsageError(f"{path}: {exc.strerror or exc}") from None
    if fmt == NDJSON:
        source = Source(path, fmt, compressed, kind_option, size, extra_kinds=extra)
        _check_readable(source)
        return source
    kind = kind_option or kind_from_name(Path(base).stem, extra)
    if kind is None:
        raise ImportUsageError(
            f"{path}: cannot tell which kind of fact this CSV file holds; name it after the kind "
            f"(e.g. deals.csv, deals-2026.csv) or pass --kind ({_kinds_text(extra)})"
        )
    source = Source(path, fmt, compressed, kind, size, extra_kinds=extra)
    source.header, source.delimiter = _read_header(source)
    _check_header(source)
    return source


def _check_readable(source: Source) -> None:
    raw, stream = source._open_binary()
    try:
        stream.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportUsageError(f"{source.path}: cannot read the file: {exc}") from None
    finally:
        stream.close()
        raw.close()


def _read_header(source: Source) -> tuple[list[str], str]:
    raw, stream = source._open_binary()
    try:
        lines = _text_lines(stream)
        first = next(lines, "")
        if not first.strip() and any(line.strip() for line in lines):
            raise ImportUsageError(f"{source.path}:1: is empty; the first line of a CSV file must be its header")
    except ReadError as exc:
        raise ImportUsageError(f"{source.path}:{exc.line}: {exc.message}") from None
    finally:
        stream.close()
        raw.close()
    if not first.strip():
        return [], ","
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    try:
        header = next(csv.reader([first], delimiter=delimiter))
    except csv.Error as exc:
        raise ImportUsageError(f"{source.path}:1: malformed CSV header ({exc})") from None
    return [h.strip() for h in header], delimiter


def _check_header(source: Source) -> None:
    header, kind = source.header, source.kind
    assert kind is not None
    where = f"{source.path}:1"
    if not header:
        return  # an empty file: nothing to import, reported as 0 rows
    problems: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(header, 1):
        if not name:
            problems.append(f"column {i} has no name")
        elif name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    if "attributes" in seen:
        problems.append("use one attributes.<name> column per custom attribute instead of 'attributes'")
    for name, why in _CSV_UNSUPPORTED.get(kind, {}).items():
        if name in seen:
            problems.append(why)
    for name in header:
        if name.startswith("attributes.") and not 1 <= len(name) - len("attributes.") <= 64:
            problems.append(f"column {name!r}: an attribute name must be 1–64 characters")
    plain = [h for h in header if h and not h.startswith("attributes.") and h != "attributes"
             and h not in _CSV_UNSUPPORTED.get(kind, {})]
    errors: list[FactError] = []
    parser_of(kind)({name: "x" for name in plain}, (), errors, clock.now())
    unknown = [str(e.path[0]) for e in errors if e.code == "UNKNOWN_FIELD"]
    if unknown:
        problems.append(f"unknown column(s) for a {kind.value}: {', '.join(unknown)}")
    missing = [str(e.path[0]) for e in errors if e.code == "REQUIRED" and len(e.path) == 1 and e.path[0] not in seen]
    if missing:
        problems.append(f"missing required column(s) for a {kind.value}: {', '.join(dict.fromkeys(missing))}")
    if problems:
        raise ImportUsageError(f"{where}: bad header: " + "; ".join(problems))
