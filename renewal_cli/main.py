"""Entry point of the ``renewal`` command: global options, subcommand registry, error exit."""

from __future__ import annotations

import argparse
import logging
import sys

from gis.errors import RenewalError
from layers.store import default_store_path, open_store
from renewal_cli import analysis, data, progress, reports, sites

COMMAND_MODULES = (data, analysis, sites, progress, reports)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="renewal", description="Urban renewal planning: layers, services, site selection, exports.")
    parser.add_argument("--store", default=None,
                        help="layer store: a GeoPackage path or postgresql://user:pass@host:port/db; "
                             f"env RENEWAL_STORE, default {default_store_path()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    store = open_store(args.store)
    try:
        return int(args.handler(store, args) or 0)
    except RenewalError as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `renewal … | head`
        sys.stderr.close()
        return 0
    except FileExistsError as ex:
        print(f"error: {ex.filename or ex} exists; remove it or choose another name", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as ex:
        print(f"error: {ex.strerror or ex}: {ex.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the store is as it was before the interrupted write", file=sys.stderr)
        return 130
    except Exception as ex:  # a bug, not bad input: say so briefly, the traceback with -v
        logging.getLogger("renewal").debug("unexpected error", exc_info=ex)
        print(f"error: internal error ({type(ex).__name__}: {ex}); rerun with -v for the details and "
              "report it", file=sys.stderr)
        return 1

if __name__ == "__main__":
    sys.exit(main())
