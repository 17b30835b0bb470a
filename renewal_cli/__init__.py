"""The `renewal` command line: a thin shell over ``layers`` and ``gis``."""
