"""Progress against the yearly targets (issue #14): ``GET /analysis/progress``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/analysis", tags=["Analysis"])
