"""Azure Batch autoscale formulas: a lark grammar (``autoscale.lark``) and a small tree interpreter.

From the service's documentation and public reports (assumptions are marked):

* Targets are truncated toward zero (2.9 "truncated to 2"; documented examples round up with
  ``(n + 3) / 4``); a negative target becomes 0 (assumed).
* ``GetSample(count)`` gives up to ``count`` of the latest samples, newest first (longer vectors'
  order is not documented). With no samples it gives an empty vector, not an error: no failure is
  documented, and the documented fallback for scarce data is ``max(0, $X.GetSample(1))``. Only
  ``samplePercent`` in ``GetSample(interval[, interval], percent)`` fails, as
  ``InsufficientSampleData``, against windows of ``SAMPLE_PERIOD`` (30 s) samples.
* ``results``: the three outputs (the current targets and ``requeue`` when unassigned), then the
  user variables sorted by name, as ``$name=value`` joined by ``;``. A failed evaluation reports the
  outputs at their current values and an AutoScaleRunError (``values``: ``Message: Line L, Col C:``).
* Rejected formulas: ``AutoScalingFormulaSyntaxError``, ``AutoScaleFormulaTooLong``; failed
  evaluations: ``AutoScalingFormulaEvaluationError`` (undefined variables, division by zero:
  assumed), ``InsufficientSampleData``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib import resources
from typing import Any, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput
from lark.visitors import Interpreter, v_args

SAMPLE_PERIOD = 30.0
MAX_LENGTH, MAX_STATEMENTS = 8192, 100
SYNTAX_ERROR, TOO_LONG = "AutoScalingFormulaSyntaxError", "AutoScaleFormulaTooLong"
EVALUATION_ERROR, INSUFFICIENT_SAMPLES = "AutoScalingFormulaEvaluationError", "InsufficientSampleData"
DEALLOCATION_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")
#: Metrics with a sample history (``samples``), read by GetSample() and the other methods.
SAMPLED = frozenset(
    {"CPUPercent", "WallClockSeconds", "MemoryBytes", "DiskBytes", "DiskReadBytes", "DiskWriteBytes"}
    | {"DiskReadOps", "DiskWriteOps", "NetworkInBytes", "NetworkOutBytes", "SampleNodeCount"}
    | {"ActiveTasks", "RunningTasks", "PendingTasks", "SucceededTasks", "FailedTasks", "PreemptedNodeCount"}
)
_ALIASES = {"TargetDedicated": "TargetDedicatedNodes", "TargetLowPriority": "TargetLowPriorityNodes"}
_ALIASES |= {"CurrentDedicated": "CurrentDedicatedNodes", "CurrentLowPriority": "CurrentLowPriorityNodes"}
_OUTPUTS = ("TargetDedicatedNodes", "TargetLowPriorityNodes", "NodeDeallocationOption")
_READ_ONLY = SAMPLED | {"CurrentDedicatedNodes", "CurrentLowPriorityNodes", "TaskSlotsPerNode"}
_READ_ONLY |= {"UsableNodeCount"}
_UNITS = ("Zero", "100ns", "Microsecond", "Millisecond", "Second", "Minute", "Hour", "Day", "Week", "Year")
_SECONDS = (0.0, 1e-7, 1e-6, 1e-3, 1.0, 60.0, 3600.0, 86400.0, 7 * 86400.0, 365 * 86400.0)
_INTERVALS = {f"TimeInterval_{unit}": seconds for unit, seconds in zip(_UNITS, _SECONDS, strict=True)}
_MESSAGES = {EVALUATION_ERROR: "Autoscale formula evaluation failed"}
_MESSAGES[INSUFFICIENT_SAMPLES] = "Autoscale evaluation failed due to insufficient sample data"


class FormulaError(ValueError):
    """A formula the service rejects; the message says what is wrong and where."""

    def __init__(self, message: str, code: str = SYNTAX_ERROR, where: tuple[Any, Any] = (None, None)):
        super().__init__(message)
        self.code, (self.line, self.column) = code, where


@dataclass(frozen=True)
class Evaluation:
    """One evaluation, shaped as the service's AutoScaleRun."""

    results: str
    target_dedicated: int
    target_low_priority: int
    deallocation: str | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class _Time:
    """A timeinterval, or a timestamp (seconds since the epoch)."""

    seconds: float
    stamp: bool = False


Value = float | tuple[float, ...] | str | _Time
Samples = Mapping[str, Sequence[tuple[float, float]]]


class _Fail(Exception):
    """An evaluation error; the node that fails fills in a missing line and column."""

    def __init__(self, detail: str, code: str = EVALUATION_ERROR, at: Token | None = None):
        super().__init__(detail)
        self.detail, self.code = detail, code
        self.line, self.column = (at.line, at.column) if at is not None else (None, None)


class _Stop(Exception):
    """stop(): the remaining statements are not evaluated."""


def _kind(value: Value) -> str:
    if isinstance(value, _Time):
        return "timestamp" if value.stamp else "timeinterval"
    return {float: "double", tuple: "doubleVec"}.get(type(value), "string")


def _double(value: Value, what: str) -> float:
    if isinstance(value, float):
        return value
    raise _Fail(f"{what} needs a double, not a {_kind(value)}")


def _flat(values: Sequence[Value], what: str) -> list[float]:
    """A doubleVecList: doubles and doubleVecs in one list."""
    return [x for value in values for x in (value if isinstance(value, tuple) else (_double(value, what),))]


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {"avg": statistics.fmean, "max": max, "min": min}
_AGGREGATES |= {"len": lambda xs: float(len(xs)), "norm": lambda xs: math.hypot(*xs), "sum": math.fsum}
_AGGREGATES |= {"range": lambda xs: max(xs) - min(xs), "std": statistics.stdev}  # the sample deviation
_ELEMENTWISE: dict[str, Callable[[float], float]] = {"lg": math.log2, "ln": math.log, "log": math.log10}
_ELEMENTWISE |= {"ceil": lambda x: float(math.ceil(x)), "floor": lambda x: float(math.floor(x))}
_ELEMENTWISE |= {"round": lambda x: float(round(x))}
_ARITY = dict.fromkeys(_AGGREGATES, (0, 999)) | dict.fromkeys(_ELEMENTWISE, (1, 1))
_ARITY |= {"percentile": (2, 2), "val": (2, 2), "rand": (0, 0), "stop": (0, 0), "time": (0, 1)}
_METHODS = {"GetSample": (1, 3), "GetSamplePercent": (1, 2), "GetSamplePeriod": (0, 0)}
_METHODS |= {"Count": (0, 0), "HistoryBeginTime": (0, 0)}
_ARITH: dict[str, Callable[[float, float], float]] = {"+": operator.add, "-": operator.sub}
_ARITH |= {"*": operator.mul, "/": operator.truediv}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt}
_COMPARE |= {">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_TIMES = {("*", "timeinterval", "double"), ("/", "timeinterval", "double"), ("*", "double", "timeinterval")}
_TIMES |= {(op, kind, "timeinterval") for op in "+-" for kind in ("timeinterval", "timestamp")}
_TIMES |= {("+", "timeinterval", "timestamp"), ("-", "timestamp", "timestamp")}


def _arith(op: str, x: float, y: float) -> float:
    if op == "/" and y == 0:
        raise _Fail("division by zero")
    return _ARITH[op](x, y)


def _binary(op: str, a: Value, b: Value) -> Value:
    """The operations the documentation lists, chosen by the operand types."""
    kinds = _kind(a), _kind(b)
    if op in _COMPARE:
        if kinds[0] == kinds[1] != "doubleVec":
            keys = [v.seconds if isinstance(v, _Time) else v for v in (a, b)]
            return 1.0 if _COMPARE[op](*keys) else 0.0
    elif isinstance(a, float) and isinstance(b, float):
        return _arith(op, a, b)
    elif isinstance(a, tuple | float) and isinstance(b, tuple | float):
        xs = a if isinstance(a, tuple) else (a,) * len(cast(tuple[float, ...], b))
        ys = b if isinstance(b, tuple) else (b,) * len(xs)
        if len(xs) != len(ys):
            raise _Fail(f"'{op}' needs doubleVecs of one length, not {len(xs)} and {len(ys)}")
        return tuple(_arith(op, x, y) for x, y in zip(xs, ys, strict=True))
    elif (op, *kinds) in _TIMES:
        x, y = (v.seconds if isinstance(v, _Time) else cast(float, v) for v in (a, b))
        if not -6e10 < (seconds := _arith(op, x, y)) < 2.5e11:
            raise _Fail(f"'{op}' gives a time beyond the years 1 to 9999")
        return _Time(seconds, "timestamp" in kinds and kinds[0] != kinds[1])
    raise _Fail(f"'{op}' is not defined for a {kinds[0]} and a {kinds[1]}")


def _format(value: Value) -> str:
    """A value as the results string shows it; a timeinterval as .NET prints a TimeSpan."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, tuple):
        return "[" + ",".join(_format(x) for x in value) + "]"
    if isinstance(value, _Time) and value.stamp:
        return datetime.fromtimestamp(value.seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    if isinstance(value, _Time):  # [-][d.]hh:mm:ss[.fffffff]
        span, sign = timedelta(seconds=abs(value.seconds)), "-" if value.seconds < 0 else ""
        hours, rest = divmod(span.seconds, 3600)
        text = f"{sign}{f'{span.days}.' if span.days else ''}{hours:02}:{rest // 60:02}:{rest % 60:02}"
        return text + (f".{span.microseconds * 10:07}" if span.microseconds else "")
    return value


def _parse_time(text: str) -> _Time:
    """time("..."): W3C-DTF (ISO 8601) or RFC 1123; UTC when the text has no zone."""
    for parse in (datetime.fromisoformat, parsedate_to_datetime):
        with contextlib.suppress(TypeError, ValueError):
            when = parse(text)
            return _Time((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp(), stamp=True)
    raise _Fail(f"time() cannot read {text!r}")


@functools.cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("autoscale.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _problem(node: Tree[Token]) -> tuple[Token, str] | None:
    """What check() rejects beyond syntax: unknown functions, wrong arity, read-only targets."""
    if node.data in ("call", "method"):
        name, args = cast(Token, node.children[-2]), cast(Tree[Token] | None, node.children[-1])
        table, kind = (_ARITY, "function") if node.data == "call" else (_METHODS, "method")
        count = len(args.children) if args is not None else 0
        if name not in table:
            return name, f"unknown {kind} '{name}'"
        if not table[name][0] <= count <= table[name][1]:
            return name, f"'{name}' does not take {count} argument(s)"
    target, bare = cast(Token, node.children[0]), str(node.children[0]).lstrip("$")
    if node.data == "assign" and _ALIASES.get(bare, bare) in _READ_ONLY:
        return target, f"{target} is read-only"
    return None


@functools.lru_cache(maxsize=256)
def _parse(formula: str) -> Tree[Token]:
    """The checked tree of a formula; cached, as pools evaluate the same formula again and again."""
    if len(formula) > MAX_LENGTH:
        raise FormulaError(f"The formula has {len(formula)} characters, more than {MAX_LENGTH}.", TOO_LONG)
    try:
        tree = _parser().parse(formula)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        what = repr(exc.char) if isinstance(exc, UnexpectedCharacters) else repr(str(token)) if token else ""
        message = f"Line {exc.line}, Col {exc.column}: syntax error, unexpected {what or 'end of formula'}"
        raise FormulaError(message, where=(exc.line, exc.column)) from None
    if sum(stmt is not None for stmt in tree.children) > MAX_STATEMENTS:
        raise FormulaError(f"The formula has more than {MAX_STATEMENTS} statements.")
    problems = [found for node in tree.iter_subtrees() if (found := _problem(node))]
    if problems:
        at, problem = min(problems, key=lambda found: (found[0].line or 0, found[0].column or 0))
        raise FormulaError(f"Line {at.line}, Col {at.column}: {problem}", where=(at.line, at.column))
    return tree


def check(formula: str) -> None:
    """Parse a formula as the service does when one is set; raises FormulaError."""
    _parse(formula)


@v_args(inline=True)
class _Evaluator(Interpreter[Token, Value]):
    """Evaluates the statements in order; ?:, && and || evaluate only the operands they need."""

    def __init__(self, samples: Samples, current: Mapping[str, float]):
        self.samples, self.current, self.now = samples, current, 0.0
        self.rng = random.Random()  # noqa: S311 - rand() in a formula, not a secret
        self.vars: dict[str, Value] = {}
        self.explicit: set[str] = set()  # full names assigned: they win over their aliases

    def visit(self, tree: Tree[Token]) -> Value:
        try:
            return super().visit(tree)
        except _Fail as fail:
            if fail.line is None:
                fail.line, fail.column = tree.meta.line, tree.meta.column
            raise

    def _args(self, args: Tree[Token] | None) -> list[Value]:
        return [self.visit(cast(Tree[Token], arg)) for arg in args.children] if args is not None else []

    def start(self, *statements: Tree[Token] | None) -> None:
        with contextlib.suppress(_Stop):
            for statement in filter(None, statements):
                self.visit(statement)

    def assign(self, target: Token, expression: Tree[Token]) -> None:
        name = target.lstrip("$")
        key, value = _ALIASES.get(name, name), self.visit(expression)
        if key in _OUTPUTS[:2] and not (isinstance(value, float) and math.isfinite(value)):
            raise _Fail(f"{target} must be a finite double, not {_format(value)}", at=target)
        if key == _OUTPUTS[2] and value not in DEALLOCATION_OPTIONS:
            raise _Fail(f"{target} must be one of {', '.join(DEALLOCATION_OPTIONS)}", at=target)
        if key == name or key not in self.explicit:
            self.vars[key] = value
            self.explicit |= {key} if key == name else set()

    def cond(self, test: Tree[Token], then: Tree[Token], otherwise: Tree[Token]) -> Value:
        return self.visit(then if _double(self.visit(test), "?:") != 0 else otherwise)

    def logic(self, left: Tree[Token], op: Token, right: Tree[Token]) -> Value:
        first = _double(self.visit(left), op) != 0
        return float(first if first == (op == "||") else _double(self.visit(right), op) != 0)

    def binop(self, left: Tree[Token], op: Token, right: Tree[Token]) -> Value:
        a, b = self.visit(left), self.visit(right)
        try:
            return _binary(str(op), a, b)
        except _Fail as fail:
            raise _Fail(fail.detail, at=op) from None

    def neg(self, operand: Tree[Token]) -> Value:
        value = self.visit(operand)
        if isinstance(value, _Time) and not value.stamp:
            return _Time(-value.seconds)
        return tuple(-x for x in value) if isinstance(value, tuple) else -_double(value, "'-'")

    def not_(self, operand: Tree[Token]) -> Value:
        return float(_double(self.visit(operand), "'!'") == 0)

    def number(self, token: Token) -> Value:
        return float(token)

    def string(self, token: Token) -> Value:
        return token[1:-1]

    def var(self, token: Token) -> Value:
        key = _ALIASES.get(token[1:], token[1:])
        if key in self.vars:
            return self.vars[key]
        if key in self.current:
            return float(self.current[key])
        if key in SAMPLED:
            raise _Fail(f"{token} is a sampled variable: read it with a method such as GetSample()")
        raise _Fail(f"undefined variable {token}")

    def name(self, token: Token) -> Value:
        if token in self.vars:
            return self.vars[token]
        if token in _INTERVALS:
            return _Time(_INTERVALS[token])
        if token in DEALLOCATION_OPTIONS:
            return str(token)
        raise _Fail(f"undefined variable {token}")

    def member(self, operand: Tree[Token], field: Token) -> Value:
        stamp = self.visit(operand)
        if not isinstance(stamp, _Time) or not stamp.stamp:
            raise _Fail(f".{field} needs a timestamp, not a {_kind(stamp)}")
        if field not in ("year", "month", "day", "weekday", "hour", "minute", "second"):
            raise _Fail(f"a timestamp has no member {field}")
        when = datetime.fromtimestamp(stamp.seconds, UTC)
        return float(when.isoweekday() if field == "weekday" else getattr(when, field))  # Monday is 1

    def call(self, name: Token, arguments: Tree[Token] | None) -> Value:
        args = self._args(arguments)
        try:
            if name in _AGGREGATES:
                values = _flat(args, name)
                if not values and name not in ("len", "norm", "sum"):
                    raise _Fail(f"{name}() of an empty list")
                return float(_AGGREGATES[name](values))
            if name in _ELEMENTWISE:
                fn, arg = _ELEMENTWISE[name], args[0]
                return tuple(fn(x) for x in arg) if isinstance(arg, tuple) else fn(_double(arg, name))
            if name == "percentile":  # the nearest rank
                vector, p = sorted(_flat(args[:1], name)), _double(args[1], name)
                if not vector or not 0 <= p <= 100:
                    raise _Fail("percentile() needs a non-empty vector and 0 <= p <= 100")
                return vector[max(0, math.ceil(p / 100 * len(vector)) - 1)]
            if name == "val":
                vector, index = _flat(args[:1], name), _double(args[1], name)
                if not (index.is_integer() and 0 <= index < len(vector)):
                    raise _Fail(f"val(): index {_format(index)} is outside a vector of {len(vector)}")
                return vector[int(index)]
            if name == "stop":
                raise _Stop
            if name == "rand":
                return self.rng.random()
            if args and not isinstance(args[0], str):
                raise _Fail("time() needs a string")
            return _parse_time(cast(str, args[0])) if args else _Time(self.now, stamp=True)
        except (ValueError, OverflowError) as exc:
            raise _Fail(f"{name}(): {exc}") from None

    def _window(self, points: Sequence[tuple[float, float]], edges: list[Value]) -> tuple[list[float], float]:
        """The values in a window, newest first, and the percentage of the expected samples they are."""
        times: list[float] = []
        for edge in [*edges, _Time(0.0)][:2]:  # a window ends now unless it names its end
            if not isinstance(edge, _Time):
                raise _Fail(f"a sample window needs timeintervals or timestamps, not a {_kind(edge)}")
            times.append(edge.seconds if edge.stamp else self.now - edge.seconds)
        low, high = min(times), max(times)
        values = [value for when, value in points if low <= when <= high]
        expected = max(1.0, math.floor((high - low) / SAMPLE_PERIOD))
        return values[::-1], min(100.0, 100.0 * len(values) / expected)

    def method(self, receiver: Tree[Token], name: Token, arguments: Tree[Token] | None) -> Value:
        variable = cast(Token, receiver.children[0])
        if receiver.data != "var" or variable[1:] in self.vars or variable[1:] not in SAMPLED:
            raise _Fail(f"{name}() is a method of the sampled variables such as $PendingTasks")
        points = sorted((float(when), float(value)) for when, value in self.samples.get(variable[1:], ()))
        args = self._args(arguments)
        if name in ("Count", "GetSamplePeriod"):
            return float(len(points)) if name == "Count" else _Time(SAMPLE_PERIOD)
        if name == "HistoryBeginTime":
            if not points:
                raise _Fail(f"{variable} has no samples")
            return _Time(points[0][0], stamp=True)
        if name == "GetSamplePercent":
            return self._window(points, args)[1]
        if isinstance(args[0], float):  # GetSample(count)
            if len(args) > 1 or not 1 <= args[0] < math.inf:
                raise _Fail("GetSample(count) takes one count of at least 1")
            return tuple(value for _, value in points[::-1][: int(args[0])])
        edges = args[:2] if len(args) > 1 and not isinstance(args[1], float) else args[:1]
        wanted = args[len(edges) :]
        if len(wanted) > 1:
            raise _Fail("GetSample() takes one samplePercent after the window")
        values, percent = self._window(points, edges)
        if wanted and percent < _double(wanted[0], "samplePercent"):
            got, want = math.floor(percent), _format(wanted[0])
            detail = f"Insufficient data from data set: {variable} wanted {want}%, received {got}%"
            raise _Fail(detail, INSUFFICIENT_SAMPLES)
        return tuple(values)


def evaluate(
    formula: str, samples: Samples, current: Mapping[str, float], now: float, *, seed: int | None = None
) -> Evaluation:
    """Evaluate a formula (FormulaError if it does not parse); ``seed`` seeds ``rand()``.

    ``samples``: variable (no ``$``) -> ``(time, value)``, oldest first; ``current``: scalar variables.
    """
    evaluator, error = _Evaluator(samples, current), None
    evaluator.now = now
    evaluator.rng.seed(seed)
    try:
        evaluator.visit(_parse(formula))
    except _Fail as fail:
        message = {"name": "Message", "value": f"Line {fail.line}, Col {fail.column}: {fail.detail}"}
        error, evaluator.vars = {"code": fail.code, "message": _MESSAGES[fail.code], "values": [message]}, {}
    found = evaluator.vars
    dedicated = cast(float, found.get(_OUTPUTS[0], float(current.get(_OUTPUTS[0], 0.0))))
    low_priority = cast(float, found.get(_OUTPUTS[1], float(current.get(_OUTPUTS[1], 0.0))))
    deallocation = cast(str | None, found.get(_OUTPUTS[2]))
    results = [f"${_OUTPUTS[0]}={_format(dedicated)}", f"${_OUTPUTS[1]}={_format(low_priority)}"]
    results.append(f"${_OUTPUTS[2]}={deallocation or 'requeue'}")
    users = sorted(set(found) - set(_OUTPUTS), key=lambda name: (name.lower(), name.swapcase()))
    results += [f"${name}={_format(found[name])}" for name in users]
    targets = max(0, math.trunc(dedicated)), max(0, math.trunc(low_priority))
    return Evaluation(";".join(results), *targets, deallocation, error)
