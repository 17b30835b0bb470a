"""Printing helpers shared by the commands: JSON (UTF-8, Chinese kept), aligned tables, progress bars."""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def print_json(data) -> None:
    sys.stdout.write(json.dumps(_clean(data), ensure_ascii=False, indent=2) + "\n")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    """Print ``rows`` as an aligned table; ``columns`` are (key, header) pairs (CJK-aware)."""
    cells = [[_fmt(r.get(k)) for k, _ in columns] for r in rows]
    headers = [h for _, h in columns]
    widths = [max([_width(h)] + [_width(c[i]) for c in cells]) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line(c))


def cell_progress(description: str):
    """A factory of tqdm bars over grid cells on stderr, silent when stderr is not a terminal."""
    from tqdm import tqdm

    def bar(total: int):
        return tqdm(total=total, desc=description, unit="cell", unit_scale=True, file=sys.stderr,
                    disable=not sys.stderr.isatty(), leave=False)

    return bar


def progress_bar(description: str, unit: str = "obj"):
    """A tqdm bar without a known total on stderr (silent when stderr is not a terminal); use
    it as a context manager."""
    from tqdm import tqdm

    return tqdm(desc=description, unit=unit, unit_scale=True, file=sys.stderr, disable=not sys.stderr.isatty(),
                leave=False)


def iso_date(text: str):
    """An argparse type: a real calendar date written YYYY-MM-DD."""
    import argparse
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a real date as YYYY-MM-DD, got {text!r}") from None


def add_dask_options(parser, help_text: str) -> None:
    """``--dask ADDRESS|local`` and ``--dask-workers N`` on a batch command."""
    parser.add_argument("--dask", metavar="ADDRESS", help=f"a Dask scheduler (tcp://host:8786) or 'local': {help_text}")
    parser.add_argument("--dask-workers", type=_workers, metavar="N",
                        help="with --dask local: worker processes (default: one per core)")


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"expects a number of worker processes from 1 to 256, got {text!r}")
    return n
