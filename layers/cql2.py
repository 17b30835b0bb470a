"""CQL2 filters (OGC API – Features Part 3): parse with pygeofilter (the parser pygeoapi uses),
check every property and literal against the layer's queryables, then let each backend
evaluate the tree (layers/backends/frames.py in memory, layers/backends/postgis_cql.py in SQL).

Both evaluators follow SQL's three-valued logic: a comparison with a missing value is
unknown, NOT unknown stays unknown, and only features for which the filter is true match.
"""

from __future__ import annotations

__all__ = ["parse_cql2", "check_cql2", "literal_geometry", "ATTRIBUTE_ALIASES", "CONFORMANCE"]

from pygeofilter import ast, values

from gis.errors import InputError

#: The conformance classes of what is supported (Part 3 and CQL2).
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]
#: Names a filter may use for the feature id and geometry.
ATTRIBUTE_ALIASES = {"geometry": "geometry", "geom": "geometry", "id": "id"}
_MAX_TEXT = 20000
_SUPPORTED = (ast.Not, ast.And, ast.Or, ast.Comparison, ast.Between, ast.Like, ast.In, ast.IsNull,
              ast.SpatialComparisonPredicate, ast.BBox, ast.Attribute)


def parse_cql2(text: str):
    """The tree of a CQL2 text filter; an InputError naming the line and column otherwise."""
    from lark.exceptions import LarkError, UnexpectedInput
    from pygeofilter.parsers.cql2_text import parse

    if len(text) > _MAX_TEXT:
        raise InputError(f"filter is {len(text)} characters long; at most {_MAX_TEXT}")
    try:
        return parse(text)
    except UnexpectedInput as ex:
        near = text[max(0, ex.pos_in_stream - 10): ex.pos_in_stream + 10] if ex.pos_in_stream is not None else ""
        raise InputError(f"filter: cannot read it at line {ex.line}, column {ex.column} (near {near!r}); "
                         "write CQL2 text, e.g. status='started' AND households>500") from None
    except (LarkError, ValueError, TypeError) as ex:
        raise InputError(f"filter: not CQL2 text ({str(ex).splitlines()[0][:200]})") from None


def literal_geometry(rhs):
    """The shapely geometry of a spatial literal: WKT, ENVELOPE(minx maxx miny maxy) or CQL2's
    BBOX(minx, miny, maxx, maxy) (which pygeofilter reads as a function)."""
    import shapely
    import shapely.geometry

    if isinstance(rhs, values.Envelope):
        return shapely.box(rhs.x1, rhs.y1, rhs.x2, rhs.y2)
    if isinstance(rhs, ast.Function):
        return shapely.box(*rhs.arguments)
    return shapely.geometry.shape(rhs.geometry)


def _is_bbox_literal(rhs) -> bool:
    return (isinstance(rhs, ast.Function) and rhs.name.lower() == "bbox" and len(rhs.arguments) == 4
            and all(isinstance(a, int | float) and not isinstance(a, bool) for a in rhs.arguments))


def _kind_of_literal(value) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


def check_cql2(node, kinds: dict[str, str]) -> None:
    """Refuse (InputError) properties the layer does not have, and literals of another type than
    their property's (``households > 'many'``), before any backend runs the filter. ``kinds``:
    property → number, text, bool or geometry."""
    allowed = {**kinds, "geometry": "geometry"}
    if isinstance(node, ast.Attribute):
        name = ATTRIBUTE_ALIASES.get(node.name, node.name)
        if name not in allowed:
            raise InputError(f"filter: unknown property {node.name!r}; queryables: {', '.join(sorted(allowed))}")
        return
    if not isinstance(node, _SUPPORTED):
        raise InputError(f"filter: {type(node).__name__} is not supported here; use comparisons, LIKE, BETWEEN, "
                         "IN, IS NULL, AND/OR/NOT and spatial predicates such as S_INTERSECTS")
    operands = []
    if isinstance(node, ast.Comparison):
        operands = [node.lhs, node.rhs]
    elif isinstance(node, ast.Between):
        operands = [node.lhs, node.low, node.high]
    elif isinstance(node, ast.In):
        operands = [node.lhs, *node.sub_nodes]
    attrs = [ATTRIBUTE_ALIASES.get(o.name, o.name) for o in operands if isinstance(o, ast.Attribute)]
    for name in attrs:
        if name not in allowed:
            raise InputError(f"filter: unknown property {name!r}; queryables: {', '.join(sorted(allowed))}")
    if attrs:
        want = allowed[attrs[0]]
        for lit in (o for o in operands if not isinstance(o, ast.Attribute)):
            got = _kind_of_literal(lit)
            if got is None or got != want:
                raise InputError(f"filter: {attrs[0]} is a {want} property; {lit!r} is not a {want}")
    if isinstance(node, ast.Like):
        name = ATTRIBUTE_ALIASES.get(getattr(node.lhs, "name", ""), getattr(node.lhs, "name", ""))
        if allowed.get(name) != "text":
            raise InputError(f"filter: LIKE needs a text property; {name!r} is not one")
        if not isinstance(node.pattern, str):
            raise InputError(f"filter: LIKE needs a quoted text pattern, e.g. name LIKE '%片区%'; got {node.pattern!r}")
    if isinstance(node, (ast.SpatialComparisonPredicate, ast.BBox)):
        lhs = getattr(node, "lhs", None)
        if not (isinstance(lhs, ast.Attribute) and ATTRIBUTE_ALIASES.get(lhs.name, lhs.name) == "geometry"):
            raise InputError("filter: a spatial predicate compares the geometry property with a geometry, "
                             "e.g. S_INTERSECTS(geometry, POLYGON((…)))")
        rhs = getattr(node, "rhs", None)
        if rhs is not None and not (isinstance(rhs, values.Geometry | values.Envelope) or _is_bbox_literal(rhs)):
            raise InputError("filter: the second argument of a spatial predicate must be a geometry literal")
    if isinstance(node, ast.SpatialComparisonPredicate):
        return  # its geometry literal was checked above
    for child in node.get_sub_nodes() if hasattr(node, "get_sub_nodes") else []:
        if isinstance(child, ast.Node):
            check_cql2(child, kinds)
