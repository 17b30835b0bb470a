"""Serve the OpenAPI document as 3.0 (OGC API – Features "oas30"; GDAL and older clients
read 3.0). FastAPI writes 3.1; the 3.1 constructs it uses are ``anyOf [X, null]``, numeric
``exclusiveMinimum``/``exclusiveMaximum`` and ``examples`` lists."""

from __future__ import annotations

import copy


def to_openapi_30(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["openapi"] = "3.0.3"

    def fix(node):
        if isinstance(node, dict):
            any_of = node.get("anyOf")
            if isinstance(any_of, list) and any(s == {"type": "null"} for s in any_of):
                rest = [s for s in any_of if s != {"type": "null"}]
                node.pop("anyOf")
                if len(rest) == 1:
                    node.update(rest[0])
                else:
                    node["anyOf"] = rest
                node["nullable"] = True
            if "examples" in node and isinstance(node["examples"], list):
                node["example"] = node.pop("examples")[0] if node["examples"] else None
            for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
                value = node.get(bound)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    node[plain] = value  # 3.1 numeric bound → 3.0 boolean flag beside minimum/maximum
                    node[bound] = True
            if node.get("type") == "null":
                node.pop("type")
                node["nullable"] = True
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    fix(doc.get("components", {}))
    fix(doc.get("paths", {}))
    return doc
