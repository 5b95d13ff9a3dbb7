"""What a client may send: the one input-validation layer for strings, numbers, dates, ids and cursors.

Every entry point asks this module — the HTTP body decoder (app.py), the GraphQL scalars and the
text guard (graphql/scalars.py), cursors (graphql/pagination.py), goal ids (goals/service.py),
ingest (ingest/validate.py) and the organisation's time zone — so a value is accepted or refused
the same way on SQLite and PostgreSQL: what PostgreSQL cannot store, SQLite refuses too. Each
check raises :class:`InputRefused` with a message that names the problem without echoing the
value when the value itself is the problem (a 10,000-character string, a lone surrogate).
The rules are listed in docs/errors.md ("Input rules").
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

#: Integers (ids, JSON numbers, attributes) are 64-bit signed, as PostgreSQL's bigint.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Dates and timestamps a client may give (a timestamp's UTC instant too). Far wider than any CRM
#: date, and far enough from Python's year 1 and 9999 that period arithmetic never overflows.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
FIRST_INSTANT = datetime(1900, 1, 1, tzinfo=timezone.utc)
END_INSTANT = datetime(3000, 1, 1, tzinfo=timezone.utc)  # exclusive
#: Decimals: finite, at most this many significant digits, magnitude below 10**DECIMAL_MAX_EXPONENT.
DECIMAL_MAX_DIGITS = 28
DECIMAL_MAX_EXPONENT = 18
#: Deepest nesting of a JSON request body or JSON scalar value.
MAX_JSON_DEPTH = 32
#: Longest time-zone name accepted (the longest IANA name is 32 characters).
MAX_ZONE_LENGTH = 64

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class InputRefused(ValueError):
    """A value no part of goalgraph accepts; the message says why (never the whole value)."""


# --- text ------------------------------------------------------------------------------------------

def text_problem(value: str) -> str | None:
    """Why ``value`` may not be stored (NUL or an unpaired surrogate), or None when it may."""
    found = _BAD_CHARACTER.search(value)
    if found is None:
        return None
    char = found.group()
    what = "the NUL character" if char == "\x00" else "an unpaired surrogate"
    return f"contains {what} (U+{ord(char):04X}) at position {found.start()}; text must be valid Unicode without NUL"


def check_text(value: str) -> str:
    """``value`` unchanged, or InputRefused."""
    problem = text_problem(value)
    if problem is not None:
        raise InputRefused(problem)
    return value


# --- numbers ---------------------------------------------------------------------------------------

def check_int64(value: int) -> int:
    """``value`` when it fits a 64-bit signed integer, else InputRefused."""
    if not INT64_MIN <= value <= INT64_MAX:
        digits = len(str(abs(value)))
        raise InputRefused(f"an integer of {digits} digits is outside the 64-bit range "
                           f"({INT64_MIN}…{INT64_MAX})")
    return value


def check_float(value: float) -> float:
    """``value`` when finite (NaN, Infinity and overflowing literals such as 1e400 are refused)."""
    if not math.isfinite(value):
        raise InputRefused(f"{value} is not a finite number")
    return value


def parse_decimal(value: object) -> Decimal:
    """A finite Decimal of bounded size from a string or number; InputRefused otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InputRefused(f"a Decimal must be a string or a number, got {type(value).__name__}")
    if isinstance(value, int):
        check_int64(value)
    text = value if isinstance(value, str) else str(value)
    if len(text) > 64:
        raise InputRefused(f"a Decimal of {len(text)} characters is too long (at most 64)")
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise InputRefused(f"{text!r} is not a Decimal (e.g. \"1250.50\")") from None
    if not number.is_finite():
        raise InputRefused(f"{text!r} is not a finite Decimal")
    if number and number.adjusted() >= DECIMAL_MAX_EXPONENT:
        raise InputRefused(f"Decimal {text} is too large (at most {DECIMAL_MAX_EXPONENT} digits before the point)")
    if len(number.as_tuple().digits) > DECIMAL_MAX_DIGITS:
        raise InputRefused(f"Decimal {text} has more than {DECIMAL_MAX_DIGITS} significant digits")
    return number


#: Largest amount (a deal's value or cost, a target): anything above is a unit mistake.
MAX_AMOUNT = Decimal("1000000000000")
AMOUNT_PLACES = 4


def amount_problem(amount: Decimal) -> str | None:
    """Why ``amount`` is no amount goalgraph stores (money columns are numeric(20, 4)), or None."""
    if not amount.is_finite():
        return f"{amount} is not a finite number"
    if amount < 0:
        return f"{amount} is negative; amounts must be zero or more"
    if amount > MAX_AMOUNT:
        return f"{amount} is larger than the largest accepted amount ({MAX_AMOUNT:,})"
    if amount != amount.quantize(Decimal(1).scaleb(-AMOUNT_PLACES)):
        return f"{amount} has more than {AMOUNT_PLACES} decimal places"
    return None


# --- dates and timestamps --------------------------------------------------------------------------

def check_day(value: date) -> date:
    """``value`` when inside FIRST_DAY…LAST_DAY."""
    if not FIRST_DAY <= value <= LAST_DAY:
        raise InputRefused(f"{value.isoformat()} is outside the accepted dates "
                           f"{FIRST_DAY.isoformat()}…{LAST_DAY.isoformat()}")
    return value


def parse_day(value: object) -> date:
    """An ISO 8601 calendar date (YYYY-MM-DD) inside the accepted range."""
    if not isinstance(value, str):
        raise InputRefused(f"a Date must be a string (YYYY-MM-DD), got {type(value).__name__}")
    text = value.strip()
    if len(text) != 10:
        raise InputRefused(f"{value[:40]!r} is not a Date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputRefused(f"{value!r} is not a Date (YYYY-MM-DD)") from None
    return check_day(day)


def check_instant(value: datetime) -> datetime:
    """``value`` (aware) when its UTC instant is inside the accepted range; returned unchanged."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputRefused(f"{value.isoformat()} has no UTC offset; add Z or an offset such as +01:00")
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_INSTANT <= utc < END_INSTANT:
        raise InputRefused(f"{value.isoformat()} is outside the accepted instants "
                           f"{FIRST_INSTANT.isoformat()}…{END_INSTANT.isoformat()} (exclusive)")
    return value


def parse_instant(value: object) -> datetime:
    """An ISO 8601 timestamp with a UTC offset (Z or ±hh:mm) inside the accepted range."""
    if not isinstance(value, str):
        raise InputRefused(f"a DateTime must be a string (ISO 8601), got {type(value).__name__}")
    text = value.strip()
    if len(text) > 40:
        raise InputRefused(f"a DateTime of {len(text)} characters is too long")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputRefused(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-03-01T09:30:00+01:00)") from None
    if moment.tzinfo is None:
        raise InputRefused(f"{value!r} has no UTC offset; add Z or an offset such as +01:00")
    return check_instant(moment)


def check_window(start: date | None, end: date | None, names: tuple[str, str] = ("from", "to")) -> None:
    """A date window whose end is not before its start."""
    if start is not None and end is not None and end < start:
        raise InputRefused(f"{names[1]}: {end.isoformat()} is before {names[0]}: {start.isoformat()}")


# --- ids -------------------------------------------------------------------------------------------

def parse_internal_id(value: str | int) -> int | None:
    """goalgraph's own numeric id (goals), or None when ``value`` cannot be one (not found, never an error)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text or len(text) > 20 or not text.isascii() or not text.lstrip("-").isdigit():
            return None
        number = int(text)
    return number if 1 <= number <= INT64_MAX else None


def parse_cursor_key(text: str) -> int:
    """The key inside a cursor: an integer 0…2**63-1, else InputRefused."""
    if len(text) > 20 or not text.isascii() or not text.isdigit():
        raise InputRefused("the cursor's key is not a non-negative integer")
    return check_int64(int(text))


# --- JSON ------------------------------------------------------------------------------------------

def check_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``value`` when every string is valid text, every number finite and 64-bit, and nesting bounded.

    Iterative, so a deep value cannot exhaust the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                raise InputRefused(f"a string {problem}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            check_int64(item)
        elif isinstance(item, float):
            check_float(item)
        elif isinstance(item, Decimal):
            if not item.is_finite():
                raise InputRefused(f"{item} is not a finite number")
        elif isinstance(item, (list, tuple, dict)):
            if depth >= max_depth:
                raise InputRefused(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InputRefused("JSON object keys must be strings")
                    if (problem := text_problem(key)) is not None:
                        raise InputRefused(f"an object key {problem}")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            raise InputRefused(f"{type(item).__name__} is not a JSON value")
    return value


def _refuse_constant(name: str) -> Any:
    raise InputRefused(f"{name} is not a JSON number; send finite numbers only")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise InputRefused(f"an integer of {len(text.lstrip('-'))} digits is outside the 64-bit range")
    return check_int64(int(text))


def _parse_float(text: str) -> float:
    if len(text) > 64:
        raise InputRefused(f"a number of {len(text)} characters is too long")
    number = float(text)
    if not math.isfinite(number):
        raise InputRefused(f"{text} overflows a 64-bit float")
    return number


def decode_json_body(data: str | bytes) -> Any:
    """A request body (or websocket message) as JSON, by the input rules; InputRefused naming why."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputRefused(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(data, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise InputRefused(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return check_json(value)


# --- time zones ------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """IANA time-zone names (from tzdata), without the files that are no zones (localtime, Factory …)."""
    from zoneinfo import available_timezones

    return frozenset(z for z in available_timezones() if z not in {"localtime", "Factory", "posixrules"})


def check_time_zone(name: str) -> str:
    """``name`` when it is an IANA time-zone name such as Europe/Oslo or UTC."""
    if len(name) > MAX_ZONE_LENGTH:
        raise InputRefused(f"a time-zone name of {len(name)} characters is not an IANA time zone")
    if name not in iana_zones():
        raise InputRefused(f"{name!r} is not an IANA time zone (e.g. Europe/Oslo)")
    return name
