"""A checked CQL2 tree (layers.cql2) as a PostgreSQL WHERE clause: properties as quoted
identifiers, every literal a bound parameter (never text pasted into SQL), geometries as
WKT in EPSG:4490; SQL's own three-valued logic, as the in-memory evaluator mimics."""

from __future__ import annotations

__all__ = ["cql2_where"]

from psycopg import sql
from pygeofilter import ast

from layers.cql2 import ATTRIBUTE_ALIASES, literal_geometry

_OPS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = {"INTERSECTS": "ST_Intersects", "DISJOINT": "ST_Disjoint", "CONTAINS": "ST_Contains",
            "WITHIN": "ST_Within", "TOUCHES": "ST_Touches", "CROSSES": "ST_Crosses", "OVERLAPS": "ST_Overlaps",
            "EQUALS": "ST_Equals"}


def _like(pattern: str) -> str:
    """CQL2 LIKE (% any run, _ one character, \\ escapes) as PostgreSQL LIKE with \\ escapes."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Where:
    def __init__(self, geom_column: str):
        self.geom = geom_column
        self.params: list = []

    def column(self, node) -> sql.Composable:
        name = ATTRIBUTE_ALIASES.get(node.name, node.name)
        return sql.Identifier(self.geom if name == "geometry" else "fid" if name == "id" else name)

    def value(self, v) -> sql.Composable:
        self.params.append(v)
        return sql.Placeholder()

    def geometry(self, rhs) -> sql.Composable:
        self.params.append(literal_geometry(rhs).wkt)
        return sql.SQL("ST_GeomFromText(%s, 4490)")

    def __call__(self, node) -> sql.Composable:  # noqa: C901 (one branch per node type reads best)
        if isinstance(node, ast.And | ast.Or):
            op = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
            return sql.SQL("({}{}{})").format(self(node.lhs), op, self(node.rhs))
        if isinstance(node, ast.Not):
            return sql.SQL("(NOT {})").format(self(node.sub_node))
        neg = sql.SQL("NOT " if getattr(node, "not_", False) else "")
        if isinstance(node, ast.Comparison):
            return sql.SQL("({} {} {})").format(self.column(node.lhs), sql.SQL(_OPS[node.op.value]), self.value(node.rhs))
        if isinstance(node, ast.Between):
            return sql.SQL("({} {}BETWEEN {} AND {})").format(self.column(node.lhs), neg, self.value(node.low),
                                                             self.value(node.high))
        if isinstance(node, ast.Like):
            op = sql.SQL("ILIKE" if node.nocase else "LIKE")
            return sql.SQL("({} {}{} {} ESCAPE '\\')").format(self.column(node.lhs), neg, op,
                                                               self.value(_like(node.pattern)))
        if isinstance(node, ast.In):
            return sql.SQL("({} {}IN ({}))").format(self.column(node.lhs), neg,
                                                    sql.SQL(", ").join(self.value(v) for v in node.sub_nodes))
        if isinstance(node, ast.IsNull):
            col = self.column(node.lhs)
            if col == sql.Identifier(self.geom):
                return sql.SQL("(({} IS NULL OR ST_IsEmpty({})) IS {}TRUE)").format(col, col, neg)
            return sql.SQL("({} IS {}NULL)").format(col, neg)
        if isinstance(node, ast.BBox):
            self.params += [node.minx, node.miny, node.maxx, node.maxy]
            return sql.SQL("ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, 4490))").format(self.column(node.lhs))
        if isinstance(node, ast.SpatialComparisonPredicate):
            return sql.SQL("{}({}, {})").format(sql.SQL(_SPATIAL[node.op.name]), self.column(node.lhs),
                                                self.geometry(node.rhs))
        raise AssertionError(f"unchecked CQL2 node {type(node).__name__}")


def cql2_where(node, geom_column: str = "geom") -> tuple[sql.Composable, list]:
    """``(clause, params)`` for a checked CQL2 tree."""
    where = _Where(geom_column)
    clause = where(node)
    return clause, where.params
