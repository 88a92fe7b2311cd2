"""Formulas as data: a safe parser, symbolic derivatives and numpy evaluation (what :class:`scalekit.Law` is built on).

The text is read by a small recursive-descent parser that knows numbers, names, ``+ - * / ^``
(``**`` too), parentheses and a whitelist of functions; nothing of the user's text is ever given to
``eval``/``exec``, and anything else (attribute access, strings, brackets, unknown functions) is a
:class:`~scalekit.exceptions.FormulaError` naming its position. Names that are variables (the law's
``variables``) read the batch's columns; every other name is a parameter.

Derivatives are taken symbolically from the parsed tree; :mod:`scalekit.laws.formula` builds laws on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .exceptions import FormulaError

FloatArray = npt.NDArray[np.float64]

__all__ = ["FUNCTIONS", "ROLE_NAMES", "Node", "derivative", "evaluate", "names", "parse", "show"]

MAX_LENGTH = 2000
MAX_DEPTH = 48
MAX_LITERAL = 1e30  # a literal beyond any column's scale (6 N D at 1e30 FLOPs) is a mistake or an overflow attack
MAX_EXPONENT = 100.0  # a literal power beyond x^100 overflows any scale

# Variables by role (DESIGN.md "laws in any variables"). E (experts) and B (batch size) are also the usual names of
# parameters (E + A/N^alpha + B/D^beta), so they are variables only when declared as such.
ROLE_NAMES = ("N", "D", "C", "U", "V", "P", "T", "lr", "bits", "S", "G", "E", "B")

# name -> (number of arguments, numpy function)
FUNCTIONS: dict[str, tuple[int, Callable[..., FloatArray]]] = {
    "exp": (1, np.exp), "log": (1, np.log), "log10": (1, np.log10), "sqrt": (1, np.sqrt), "abs": (1, np.abs),
    "tanh": (1, np.tanh), "sigmoid": (1, lambda u: 0.5 * (1.0 + np.tanh(0.5 * u))),
    "min": (2, np.minimum), "max": (2, np.maximum),
}


def _pick_le(a: FloatArray, b: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
    out: FloatArray = np.where(a <= b, x, y)
    return out


# used only in derivatives, never accepted from the user's text
_INTERNAL: dict[str, Callable[..., FloatArray]] = {"sign": np.sign, "pick_le": _pick_le}


# --- the tree ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Neg:
    arg: Node


@dataclass(frozen=True)
class Bin:
    op: str  # + - * / ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple[Node, ...]


Node = Num | Name | Neg | Bin | Call


def names(node: Node) -> Iterator[str]:
    """Every name in ``node``, in order of appearance (with repeats)."""
    if isinstance(node, Name):
        yield node.id
    elif isinstance(node, Neg):
        yield from names(node.arg)
    elif isinstance(node, Bin):
        yield from names(node.left)
        yield from names(node.right)
    elif isinstance(node, Call):
        for a in node.args:
            yield from names(a)


def show(node: Node) -> str:
    """The tree as text (fully parenthesised where it matters)."""
    if isinstance(node, Num):
        return f"{node.value:g}"
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Neg):
        return f"-({show(node.arg)})"
    if isinstance(node, Bin):
        return f"({show(node.left)} {node.op} {show(node.right)})"
    return f"{node.fn}({', '.join(show(a) for a in node.args)})"


# --- parsing -----------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise FormulaError(text, at, f"unexpected character {text[at]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, "^" if value == "**" else value, m.start(kind)))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    """expr := term (('+'|'-') term)*; term := unary (('*'|'/') unary)*; unary := '-' unary | '+' unary | power;
    power := atom ('^' unary)?  (right-associative, and -x^2 is -(x^2)); atom := number | name | name '(' args ')' | '(' expr ')'
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, problem: str, pos: int | None = None) -> FormulaError:
        return FormulaError(self.text, self.peek()[2] if pos is None else pos, problem)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} deep")

    def parse(self) -> Node:
        node = self.expr()
        kind, value, _pos = self.peek()
        if kind != "end":
            raise self.fail(f"unexpected {value!r}")
        return node

    def expr(self) -> Node:
        self.enter()
        node = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()[1]
            node = Bin(op, node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            op = self.take()[1]
            node = Bin(op, node, self.unary())
        return node

    def unary(self) -> Node:
        self.enter()
        kind, value, _ = self.peek()
        if kind == "op" and value in ("-", "+"):
            self.take()
            arg = self.unary()
            node: Node = (Num(-arg.value) if isinstance(arg, Num) else Neg(arg)) if value == "-" else arg
        else:
            node = self.power()
        self.depth -= 1
        return node

    def power(self) -> Node:
        base = self.atom()
        if self.peek()[:2] == ("op", "^"):
            pos = self.take()[2]
            exponent = self.unary()
            if isinstance(exponent, Num) and abs(exponent.value) > MAX_EXPONENT:
                raise self.fail(f"a literal exponent beyond {MAX_EXPONENT:g}", pos)
            if isinstance(base, Num) and isinstance(exponent, Num):  # fold constants, refusing overflow
                try:
                    v = math.pow(base.value, exponent.value)
                except (OverflowError, ValueError):
                    raise self.fail("a constant power out of range", pos) from None
                if not math.isfinite(v) or abs(v) > MAX_LITERAL:
                    raise self.fail(f"a constant power larger than {MAX_LITERAL:g}", pos)
                return Num(v)
            return Bin("^", base, exponent)
        return base

    def atom(self) -> Node:
        kind, value, pos = self.take()
        if kind == "num":
            v = float(value)
            if not math.isfinite(v) or abs(v) > MAX_LITERAL:
                raise FormulaError(self.text, pos, f"the number {value} is out of range (|x| <= {MAX_LITERAL:g})")
            return Num(v)
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                if value not in FUNCTIONS:
                    allowed = ", ".join(sorted(FUNCTIONS))
                    raise FormulaError(self.text, pos, f"unknown function {value!r} (allowed: {allowed})")
                self.take()
                args = [self.expr()]
                while self.peek()[:2] == ("op", ","):
                    self.take()
                    args.append(self.expr())
                if self.peek()[:2] != ("op", ")"):
                    raise self.fail("expected ')'")
                self.take()
                arity = FUNCTIONS[value][0]
                if len(args) != arity:
                    raise FormulaError(self.text, pos, f"{value}() takes {arity} argument{'s' * (arity > 1)}, got {len(args)}")
                return Call(value, tuple(args))
            if value in FUNCTIONS:
                raise FormulaError(self.text, pos, f"function {value!r} needs its arguments in parentheses")
            return Name(value)
        if (kind, value) == ("op", "("):
            node = self.expr()
            if self.peek()[:2] != ("op", ")"):
                raise self.fail("expected ')'")
            self.take()
            return node
        if kind == "end":
            raise FormulaError(self.text, pos, "the formula ends too early")
        raise FormulaError(self.text, pos, f"unexpected {value!r}")


def parse(text: str) -> Node:
    """The tree of a formula, or a one-line :class:`FormulaError` naming the position of what is wrong.

    >>> show(parse("E + A * N^-alpha"))
    '(E + (A * (N ^ -(alpha))))'
    """
    if not isinstance(text, str):
        raise FormulaError(repr(text), 0, "a law formula must be a string")
    if len(text) > MAX_LENGTH:
        raise FormulaError(text[:60] + "...", MAX_LENGTH, f"longer than {MAX_LENGTH} characters")
    if text.strip() == "":
        raise FormulaError(text, 0, "the formula is empty")
    return _Parser(text).parse()


# --- algebra -----------------------------------------------------------------------------------
def _add(a: Node, b: Node) -> Node:
    if a == Num(0.0):
        return b
    if b == Num(0.0):
        return a
    if isinstance(a, Num) and isinstance(b, Num):
        return Num(a.value + b.value)
    return Bin("+", a, b)


def _sub(a: Node, b: Node) -> Node:
    if b == Num(0.0):
        return a
    if a == Num(0.0):
        return _neg(b)
    return Bin("-", a, b)


def _neg(a: Node) -> Node:
    if isinstance(a, Num):
        return Num(-a.value)
    return a.arg if isinstance(a, Neg) else Neg(a)


def _mul(a: Node, b: Node) -> Node:
    if a == Num(0.0) or b == Num(0.0):
        return Num(0.0)
    if a == Num(1.0):
        return b
    if b == Num(1.0):
        return a
    if isinstance(a, Num) and isinstance(b, Num):
        return Num(a.value * b.value)
    return Bin("*", a, b)


def _div(a: Node, b: Node) -> Node:
    if a == Num(0.0):
        return Num(0.0)
    if b == Num(1.0):
        return a
    return Bin("/", a, b)


def derivative(node: Node, p: str) -> Node:
    """d node / d p, simplified where a factor is 0 or 1."""
    if isinstance(node, Num):
        return Num(0.0)
    if isinstance(node, Name):
        return Num(1.0 if node.id == p else 0.0)
    if p not in set(names(node)):
        return Num(0.0)
    if isinstance(node, Neg):
        return _neg(derivative(node.arg, p))
    if isinstance(node, Bin):
        u, v = node.left, node.right
        du, dv = derivative(u, p), derivative(v, p)
        if node.op == "+":
            return _add(du, dv)
        if node.op == "-":
            return _sub(du, dv)
        if node.op == "*":
            return _add(_mul(du, v), _mul(u, dv))
        if node.op == "/":
            return _sub(_div(du, v), _div(_mul(u, dv), Bin("*", v, v)))
        # u^v: v u^(v-1) u' + u^v log(u) v'
        left = _mul(_mul(v, Bin("^", u, _sub(v, Num(1.0)))), du) if du != Num(0.0) else Num(0.0)
        right = _mul(_mul(node, Call("log", (u,))), dv) if dv != Num(0.0) else Num(0.0)
        return _add(left, right)
    a = node.args
    da = [derivative(x, p) for x in a]
    fn = node.fn
    if fn == "exp":
        return _mul(node, da[0])
    if fn == "log":
        return _div(da[0], a[0])
    if fn == "log10":
        return _div(da[0], _mul(a[0], Num(math.log(10.0))))
    if fn == "sqrt":
        return _div(da[0], _mul(Num(2.0), node))
    if fn == "abs":
        return _mul(Call("sign", (a[0],)), da[0])
    if fn == "tanh":
        return _mul(_sub(Num(1.0), Bin("*", node, node)), da[0])
    if fn == "sigmoid":
        return _mul(_mul(node, _sub(Num(1.0), node)), da[0])
    if fn == "min":
        return Call("pick_le", (a[0], a[1], da[0], da[1]))
    if fn == "max":
        return Call("pick_le", (a[0], a[1], da[1], da[0]))
    raise AssertionError(fn)  # pragma: no cover - the parser admits only FUNCTIONS


def evaluate(node: Node, env: Mapping[str, FloatArray | float]) -> FloatArray:
    """``node`` on numpy arrays; names read ``env``. Never calls anything but the whitelisted numpy functions."""
    if isinstance(node, Num):
        return np.asarray(node.value)
    if isinstance(node, Name):
        return np.asarray(env[node.id])
    if isinstance(node, Neg):
        return -evaluate(node.arg, env)
    if isinstance(node, Bin):
        a, b = evaluate(node.left, env), evaluate(node.right, env)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if node.op == "/":
            return a / b
        out: FloatArray = np.power(a, b)
        return out
    fn = FUNCTIONS[node.fn][1] if node.fn in FUNCTIONS else _INTERNAL[node.fn]
    return np.asarray(fn(*[evaluate(x, env) for x in node.args]))


