"""Errors raised by renewal-gis.

Every error derives from :class:`RenewalError` and also from the matching built-in
(rasterio's pattern), so callers may catch either ``CRSError`` or ``ValueError``.
The API maps these classes to HTTP statuses in one place (``api/errors.py``).
"""

from __future__ import annotations

__all__ = [
    "RenewalError",
    "CRSError",
    "InputError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "MalformedError",
    "PreconditionError",
    "Problem",
]

from dataclasses import dataclass


class RenewalError(Exception):
    """Base class of every error this project raises on purpose."""


class CRSError(RenewalError, ValueError):
    """A coordinate reference system is missing, unknown or does not fit the data."""


class InputError(RenewalError, ValueError):
    """An argument or input file cannot be used as given; the message says what to fix."""


class NotFoundError(RenewalError, LookupError):
    """A named layer, area, category or feature does not exist."""


class ConflictError(RenewalError):
    """The request conflicts with what is stored (e.g. a raster that exists already)."""


class PreconditionError(RenewalError):
    """A conditional change (HTTP If-Match) found the feature changed since it was read."""


@dataclass(frozen=True)
class Problem:
    """One problem found in one feature of an input layer.

    ``row`` is 1-based, counted as the features appear in the file.
    """

    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ValidationError(InputError):
    """An input layer failed validation as a whole; nothing was written.

    ``problems`` lists every problem found (not just the first), so a planner can fix
    the file in one pass.
    """

    def __init__(self, summary: str, problems: list[Problem] | None = None):
        self.summary = summary
        self.problems = list(problems or [])
        shown = "\n".join(f"  - {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"\n  ... and {more} more"
        super().__init__(f"{summary}\n{shown}" if shown else summary)


class MalformedError(ValidationError):
    """A document does not follow its format (e.g. GeoJSON with a ring of two positions):
    a bad request rather than features that failed the layer's rules."""
