"""Review layer 1, static: RestrictedPython's compile plus our own allow-list of syntax and names.

The allow-list is deliberately narrow: a strategy is one `strategy(bars, indicators, position,
params)` function and a few literal declarations (`PARAMS`, `INDICATORS`, `TIMEFRAMES`), using
arithmetic, comparisons, loops, lists, dicts and a handful of list/str/dict methods. Everything
else — imports, classes, decorators, generators, try/except, `global`, names or attributes
starting with `_`, the reflective builtins — is refused here, before any code runs. The sandbox
does not rely on this layer (it enforces RestrictedPython's guards and rlimits on its own), and
this layer does not rely on the sandbox.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from RestrictedPython import compile_restricted_exec

from trading.indicators import output_keys, parse_indicator

MAX_CODE_CHARS = 20_000
MAX_LINES = 500
MAX_NODES = 6_000
MAX_STRING_CHARS = 1_000
MAX_PARAMS = 20
ENTRY_POINT = "strategy"
ENTRY_ARGUMENTS = ["bars", "indicators", "position", "params"]
TIMEFRAME = re.compile(r"^(1m|5m|15m|30m|1h|4h|1d)$")
DECLARATIONS = ("PARAMS", "INDICATORS", "TIMEFRAMES")
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

ALLOWED_NODES: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Module,
        ast.FunctionDef,
        ast.arguments,
        ast.arg,
        ast.Return,
        ast.Assign,
        ast.AugAssign,
        ast.If,
        ast.For,
        ast.While,
        ast.Break,
        ast.Continue,
        ast.Pass,
        ast.Expr,
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.BinOp,
        ast.Add,
        ast.Sub,
        ast.Mult,
        ast.Div,
        ast.FloorDiv,
        ast.Mod,
        ast.Pow,
        ast.UnaryOp,
        ast.USub,
        ast.UAdd,
        ast.Not,
        ast.Compare,
        ast.Eq,
        ast.NotEq,
        ast.Lt,
        ast.LtE,
        ast.Gt,
        ast.GtE,
        ast.In,
        ast.NotIn,
        ast.Is,
        ast.IsNot,
        ast.Call,
        ast.keyword,
        ast.IfExp,
        ast.Attribute,
        ast.Subscript,
        ast.Slice,
        ast.Name,
        ast.Load,
        ast.Store,
        ast.Constant,
        ast.List,
        ast.Tuple,
        ast.Dict,
        ast.ListComp,
        ast.DictComp,
        ast.comprehension,
        ast.JoinedStr,
        ast.FormattedValue,
        ast.Lambda,
    }
)

FORBIDDEN_NAMES = frozenset(
    {
        "type",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "vars",
        "globals",
        "locals",
        "eval",
        "exec",
        "compile",
        "open",
        "dir",
        "id",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "print",
        "exit",
        "quit",
        "iter",
        "next",
        "bytes",
        "bytearray",
        "format",
        "os",
        "sys",
        "socket",
        "subprocess",
        "django",
        "settings",
    }
)

ALLOWED_ATTRIBUTES = frozenset(
    {
        # list
        "append",
        "extend",
        "insert",
        "pop",
        "index",
        "count",
        "sort",
        "reverse",
        # dict
        "get",
        "keys",
        "values",
        "items",
        "copy",
        # str
        "upper",
        "lower",
        "strip",
        "startswith",
        "endswith",
        "split",
        "join",
        "replace",
        # the math namespace
        "sqrt",
        "log",
        "log10",
        "exp",
        "floor",
        "ceil",
        "fabs",
        "isnan",
        "isfinite",
        "inf",
        "nan",
        "pi",
        "e",
        "tanh",
        "atan",
    }
)


@dataclass
class StaticReview:
    """The static layer's verdict, and what the code declares (once it passed)."""

    passed: bool
    issues: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    indicators: list[str] = field(default_factory=list)
    timeframes: list[str] = field(default_factory=lambda: ["5m"])

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "issues": self.issues,
            "params": self.params,
            "indicators": self.indicators,
            "timeframes": self.timeframes,
        }


def _where(node: ast.AST) -> str:
    line = getattr(node, "lineno", None)
    return f"line {line}: " if line else ""


def _node_issues(tree: ast.Module) -> list[str]:
    issues: list[str] = []
    for node in ast.walk(tree):
        kind = type(node)
        if kind not in ALLOWED_NODES:
            issues.append(f"{_where(node)}{kind.__name__} is not allowed in a strategy")
            continue
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                issues.append(f"{_where(node)}names may not start with '_' ({node.id})")
            elif node.id in FORBIDDEN_NAMES:
                issues.append(f"{_where(node)}'{node.id}' is not allowed")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                issues.append(f"{_where(node)}attributes may not start with '_' (.{node.attr})")
            elif node.attr not in ALLOWED_ATTRIBUTES:
                issues.append(f"{_where(node)}.{node.attr} is not an allowed method or attribute")
        elif isinstance(node, ast.arg):
            if node.arg.startswith("_") or node.arg in FORBIDDEN_NAMES:
                issues.append(f"{_where(node)}parameter name '{node.arg}' is not allowed")
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                issues.append(f"{_where(node)}decorators are not allowed")
            if node.returns is not None or any(
                a.annotation is not None
                for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
            ):
                issues.append(f"{_where(node)}type annotations are not allowed")
            if node.args.posonlyargs:
                issues.append(f"{_where(node)}positional-only parameters are not allowed")
            if node.args.vararg or node.args.kwarg:
                issues.append(f"{_where(node)}*args and **kwargs are not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            if isinstance(node.value, bytes):
                issues.append(f"{_where(node)}bytes literals are not allowed")
            elif len(node.value) > MAX_STRING_CHARS:
                issues.append(f"{_where(node)}a text longer than {MAX_STRING_CHARS} characters")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if not isinstance(target, (ast.Name, ast.Subscript, ast.Tuple, ast.List)):
                    issues.append(f"{_where(node)}only names and items can be assigned")
    return issues


def _literal(node: ast.AST, name: str, issues: list[str]) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        issues.append(f"{_where(node)}{name} must be a plain literal")
        return None


def _declarations(tree: ast.Module, review: StaticReview) -> None:
    entry = None
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef):
            if statement.name == ENTRY_POINT:
                entry = statement
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring or a comment-like string
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            name = statement.targets[0].id
            if name not in DECLARATIONS and not name.isupper():
                review.issues.append(
                    f"{_where(statement)}module level holds only PARAMS, INDICATORS, TIMEFRAMES, "
                    "UPPER_CASE constants and functions"
                )
                continue
            value = _literal(statement.value, name, review.issues)
            if name == "PARAMS":
                _check_params(value, review)
            elif name == "INDICATORS":
                _check_indicators(value, review)
            elif name == "TIMEFRAMES":
                _check_timeframes(value, review)
            continue
        review.issues.append(
            f"{_where(statement)}module level holds only declarations and functions; "
            "put the logic inside strategy()"
        )
    if entry is None:
        review.issues.append(
            f"the code must define {ENTRY_POINT}({', '.join(ENTRY_ARGUMENTS)}) returning a signal"
        )
    elif [a.arg for a in entry.args.args] != ENTRY_ARGUMENTS or entry.args.kwonlyargs:
        review.issues.append(
            f"{_where(entry)}{ENTRY_POINT}() takes exactly ({', '.join(ENTRY_ARGUMENTS)})"
        )


def _check_params(value: Any, review: StaticReview) -> None:
    if not isinstance(value, dict) or len(value) > MAX_PARAMS:
        review.issues.append(f"PARAMS must be a dict of at most {MAX_PARAMS} name: default pairs")
        return
    for name, default in value.items():
        if not isinstance(name, str) or not PARAM_NAME.match(name):
            review.issues.append(f"PARAMS: {name!r} is not a valid parameter name")
        elif not isinstance(default, (bool, int, float, str)):
            review.issues.append(f"PARAMS: {name} must default to a number, a text or true/false")
        else:
            review.params[name] = default


def _check_indicators(value: Any, review: StaticReview) -> None:
    if not isinstance(value, (list, tuple)) or len(value) > 20:
        review.issues.append("INDICATORS must be a list of at most 20 indicator names")
        return
    for name in value:
        try:
            review.indicators.append(parse_indicator(name).name)
        except ValueError as error:
            review.issues.append(f"INDICATORS: {error}")


def _check_timeframes(value: Any, review: StaticReview) -> None:
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(t, str) and TIMEFRAME.match(t) for t in value)
    ):
        review.issues.append("TIMEFRAMES must be a list such as ['5m', '1h']")
        return
    review.timeframes = list(dict.fromkeys(value))


def static_review(code: str) -> StaticReview:
    """Layer 1 of the review: passed, or every reason it did not."""
    review = StaticReview(passed=False)
    if not isinstance(code, str) or not code.strip():
        review.issues.append("the code is empty")
        return review
    if len(code) > MAX_CODE_CHARS or code.count("\n") + 1 > MAX_LINES:
        review.issues.append(
            f"the code is too long (at most {MAX_CODE_CHARS} characters, {MAX_LINES} lines)"
        )
        return review
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        review.issues.append(f"the code does not parse: {error}")
        return review
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        review.issues.append("the code is too large")
        return review
    review.issues.extend(_node_issues(tree))
    _declarations(tree, review)
    compiled = compile_restricted_exec(code, filename="<strategy>")
    review.issues.extend(f"RestrictedPython: {error}" for error in compiled.errors)
    review.passed = not review.issues
    return review


def indicator_keys(indicators: list[str]) -> list[str]:
    """The keys the `indicators` input holds for these declared names ("EMA_9" → "ema_9")."""
    return output_keys(indicators)
