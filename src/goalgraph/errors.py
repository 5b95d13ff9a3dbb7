"""The validation errors every part raises: problems in incoming data, each naming the field and the fault."""

from __future__ import annotations

from dataclasses import dataclass

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class FactError:
    """One problem with one field of one incoming fact.

    ``path`` locates the field inside the batch, e.g. ``("deals", 3, "owner_id")``;
    ``code`` is machine-readable (``REQUIRED``, ``INVALID``, ``UNKNOWN_REFERENCE`` …).
    """

    path: Path
    message: str
    code: str = "INVALID"

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path)
        return f"{where}: {self.message}" if where else self.message


class IngestRejected(Exception):
    """A batch was refused as a whole; nothing of it was written."""

    def __init__(self, errors: list[FactError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} problem(s) in the batch: {shown}{more}")
