"""What a planner runs, shared by the CLI and the API (the application layer): gather inputs
from a store, call the analyses in ``gis``, shape the answer."""
