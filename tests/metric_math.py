"""CloudWatch metric math, as far as this program's alarms use it, over one datapoint.

Enough to ask what an alarm's expression says for given metric values: numbers, query ids,
`+ - * /`, comparisons, `IF(condition, a, b)`, `FILL(x, value)`, `SUM([...])` and `MAX([...])`
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html). A
metric with no datapoint is None; arithmetic on None is None, as CloudWatch leaves a
timestamp out where a series has no value, and FILL gives it one.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Value = float | None

_ARITHMETIC: Mapping[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b else float("nan"),
}
_COMPARISONS: Mapping[type, Callable[[float, float], bool]] = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
}


def _present(values: Sequence[Value]) -> list[float]:
    return [v for v in values if v is not None]


def evaluate(expression: str, values: Mapping[str, Value]) -> Value:
    """The value of `expression` where each query id has the value given in `values`."""

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.List):
            return [walk(item) for item in node.elts]
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            return _ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = walk(node.left), walk(node.comparators[0])
            if left is None or right is None:
                return None
            return 1.0 if _COMPARISONS[type(node.ops[0])](left, right) else 0.0
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name, args = node.func.id, node.args
            if name == "IF":
                condition = walk(args[0])
                if condition is None:
                    return None
                return walk(args[1]) if condition else walk(args[2])
            if name == "FILL":
                value = walk(args[0])
                return walk(args[1]) if value is None else value
            if name in ("SUM", "MAX"):
                present = _present(walk(args[0]))
                if not present:
                    return None
                return sum(present) if name == "SUM" else max(present)
        raise ValueError(f"not in the metric math this evaluator knows: {ast.dump(node)}")

    return walk(ast.parse(expression, mode="eval"))


def alarm_value(metric_queries: Sequence[Mapping[str, Any]], metrics: Mapping[str, Value]) -> Value:
    """What an alarm's metric queries return, with `metrics` as its metrics' datapoints (by
    query id; an id left out has no datapoint)."""
    values: dict[str, Value] = {}
    returned: Value = None
    for query in metric_queries:
        if "metric" in query:
            values[query["id"]] = metrics.get(query["id"])
            continue
        values[query["id"]] = evaluate(query["expression"], values)
        if query.get("returnData"):
            returned = values[query["id"]]
    return returned
