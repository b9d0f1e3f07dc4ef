"""Exact depth and size formulas of compiled circuit families, derived from structure.

For a model, a strategy and an output mode, :func:`family_formulas` returns sympy
expressions ``size(n)``, ``depth(n)`` and ``nonlinear_depth(n)`` in the symbol
:data:`~circuitlab.compile.schedules.N_SYMBOL`. Nothing is fitted to measured
circuits: the formulas come from the structure of the compiled circuit.

Method (``docs/formulas.md`` has the details and examples)
------------------------------------------------------------
1. **Classes.** A combined map is described by its *signature*: form, shapes and,
   for every entry, whether it is a gate or which constant it folded to. Gate
   counts and depths of a combine depend only on the signatures of its operands.
   The signature of a segment product is computed for every segment length ``L``
   from all bracketings. It must be a function of ``L`` that is constant from some
   length ``T`` on, and the final signature must absorb every other (both are
   checked). Lengths ``1 .. T-1`` and ``>= T`` are the classes.
2. **Gadgets.** One combine per pair of classes, one apply and the readout per
   class, and one step map are built on scratch circuits. Each gives a gate count
   and a max-plus matrix of longest paths from operand entries to result entries.
3. **Size** is ``n`` times the step-map gates, plus the number of combines of each
   class pair (closed forms per schedule) times their gate counts, plus applies
   and readout.
4. **Depth.** Entry depths follow a max-plus recurrence. Every final slot value of
   the schedules is a chain of balanced blocks over the one bits of ``n - 1``
   (or ``n``). Its depth is therefore a maximum over those bits of path weights,
   which are eventually affine in the block level and in the chain length. Eventual
   affinity is proved per sequence by a certificate (see :class:`_Seq`). The
   maximum over the one bits is written with :class:`max_over`, a bounded
   maximum like ``Sum``. With every prefix state as output, the maximum over
   ``x <= n`` uses the fact that filling the free low bits with ones never lowers
   the depth, which the module checks on the gadgets before using it.

Cases without a derivation raise :class:`~circuitlab.errors.CompileError`.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import NONLINEAR_MASK, Op
from circuitlab.compile import STRATEGIES
from circuitlab.compile.affine import PD_COMBINES, AffineMaps, apply, combine, to_dense
from circuitlab.compile.schedules import (
    N_SYMBOL,
    bit_count,
    ceil_log2,
    floor_log2,
)
from circuitlab.errors import CompileError

__all__ = [
    "family_formulas",
    "verify_family_formulas",
    "evaluate_exact",
    "Mismatch",
    "max_over",
    "exact_max",
    "QUANTITIES",
]

logger = logging.getLogger(__name__)

#: Quantities a formula dictionary may contain, in printing order.
QUANTITIES = ("depth", "nonlinear_depth", "size")

_NO_FORMULA_HINT = "measure with `circuitlab sweep`"


def _no_formula(what: str) -> CompileError:
    return CompileError(f"no exact formula for {what}; {_NO_FORMULA_HINT}")


# ---------------------------------------------------------------------------
# Sympy: a bounded maximum and an exact evaluator
# ---------------------------------------------------------------------------


class max_over(sympy.Function):  # noqa: N801 - prints inside formulas, like sympy.floor
    """Maximum of ``body`` over the integer ``var`` in ``lo .. hi`` (like ``Sum``).

    ``max_over(body, var, lo, hi)`` evaluates once ``lo`` and ``hi`` are integers
    and ``var`` is the only free symbol of ``body``. Every body in this module is
    a depth, so it is ``>= 0``, and an empty range (``hi < lo``) evaluates to 0,
    which leaves a surrounding ``Max`` unchanged. ``var`` is bound: it is not a
    free symbol of the whole expression.
    """

    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, body, var, lo, hi):
        if not (lo.is_Integer and hi.is_Integer):
            return None
        if body.free_symbols - {var}:
            return None
        if hi < lo:
            return sympy.Integer(0)
        # Compiled once per body: substituting into the sympy tree for every value
        # would rebuild it each time.
        program = _Program(body)
        values = [program.run({var: value}) for value in range(int(lo), int(hi) + 1)]
        best = max(values)
        if best != int(best):
            return None
        return sympy.Integer(int(best))

    @property
    def free_symbols(self):
        body, var, lo, hi = self.args
        return (body.free_symbols - {var}) | lo.free_symbols | hi.free_symbols

    def _xreplace(self, rule):
        # Substitute into the body without evaluating it: evaluating a large body
        # that still contains the bound variable (for example Max of terms in q) is
        # slow, and eval runs the body with exact arithmetic anyway.
        if self in rule:
            return rule[self], True
        body, var, lo, hi = self.args
        inner = {key: value for key, value in rule.items() if key != var}
        with sympy.evaluate(False):
            new_body, changed = body._xreplace(inner)
        new_lo, changed_lo = lo._xreplace(rule)
        new_hi, changed_hi = hi._xreplace(rule)
        if changed or changed_lo or changed_hi:
            return self.func(new_body, var, new_lo, new_hi), True
        return self, False

    def _eval_subs(self, old, new):
        body, var, lo, hi = self.args
        if old == var:
            return self
        with sympy.evaluate(False):
            new_body = (
                body.xreplace({old: new}) if old.is_Symbol else body.subs(old, new)
            )
        return self.func(new_body, var, lo.subs(old, new), hi.subs(old, new))


class exact_max(sympy.Function):  # noqa: N801 - prints as Max inside formulas
    """``Max`` of integer-valued arguments that evaluates only once all are numbers.

    ``sympy.Max`` compares symbolic arguments to drop redundant ones whenever it is
    rebuilt, which is slow for the large arguments of these formulas (for
    example inside ``evaluate_formula``). This class never compares symbolic
    arguments. It prints as ``Max``.
    """

    is_integer = True

    @classmethod
    def eval(cls, *args):
        if args and all(arg.is_Integer for arg in args):
            return max(args)
        return None

    def _sympystr(self, printer) -> str:
        return "Max(" + ", ".join(printer._print(arg) for arg in self.args) + ")"


class _Program:
    """A sympy expression compiled to a postorder instruction list.

    The expression tree is walked with an explicit stack. Lazy constructs
    (``Piecewise`` branches, the bodies of ``Sum`` and :class:`max_over`) become
    separate programs, nested only as deep as those constructs, and run only
    when needed, so a branch that does not apply (such as ``ceil_log2(n - 2)``
    at ``n = 1``) is never evaluated.
    """

    def __init__(self, expr: sympy.Basic):
        self.code: list[tuple] = []
        stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
        while stack:
            node, expanded = stack.pop()
            if isinstance(node, sympy.Piecewise):
                pieces = [
                    (_Program(piece), _Program(cond)) for piece, cond in node.args
                ]
                self.code.append(("piecewise", pieces))
            elif isinstance(node, sympy.Sum):
                (var, lo, hi) = node.limits[0]
                self.code.append(
                    ("sum", var, _Program(node.function), _Program(lo), _Program(hi))
                )
            elif isinstance(node, max_over):
                body, var, lo, hi = node.args
                self.code.append(
                    ("max_over", var, _Program(body), _Program(lo), _Program(hi))
                )
            elif node.is_Symbol:
                self.code.append(("symbol", node))
            elif node.is_Integer:
                self.code.append(("const", int(node)))
            elif node.is_Rational:
                self.code.append(("const", Fraction(int(node.p), int(node.q))))
            elif node in (sympy.true, sympy.false):
                self.code.append(("const", bool(node)))
            elif expanded:
                self.code.append(("apply", _operation(node), len(node.args)))
            else:
                # Children first, left to right, then the node (postorder).
                stack.append((node, True))
                for arg in reversed(node.args):
                    stack.append((arg, False))

    def run(self, env: dict) -> int | Fraction | bool:
        values: list = []
        for instruction in self.code:
            kind = instruction[0]
            if kind == "const":
                values.append(instruction[1])
            elif kind == "symbol":
                values.append(env[instruction[1]])
            elif kind == "apply":
                count = instruction[2]
                args = values[len(values) - count :]
                del values[len(values) - count :]
                values.append(instruction[1](*args))
            elif kind == "piecewise":
                for piece, condition in instruction[1]:
                    if condition.run(env):
                        values.append(piece.run(env))
                        break
                else:
                    raise CompileError("no Piecewise branch applies")
            else:
                _, var, body, lo, hi = instruction
                start, stop = int(lo.run(env)), int(hi.run(env))
                results = []
                for value in range(start, stop + 1):
                    env[var] = value
                    results.append(body.run(env))
                env.pop(var, None)
                if kind == "sum":
                    values.append(sum(results))
                else:
                    values.append(max(results) if results else 0)
        return values[0]


def _check_domain(value, minimum: int, name: str) -> int:
    if value != int(value) or value < minimum:
        raise CompileError(f"{name} is undefined at {value}")
    return int(value)


_OPERATIONS: dict = {
    sympy.Add: lambda *a: sum(a),
    sympy.Mul: lambda *a: math.prod(a),
    sympy.Max: lambda *a: max(a),
    exact_max: lambda *a: max(a),
    sympy.Min: lambda *a: min(a),
    sympy.floor: math.floor,
    sympy.ceiling: math.ceil,
    sympy.Mod: operator.mod,
    sympy.Eq: lambda a, b: a == b,
    sympy.Ne: lambda a, b: a != b,
    sympy.Lt: lambda a, b: a < b,
    sympy.Le: lambda a, b: a <= b,
    sympy.Gt: lambda a, b: a > b,
    sympy.Ge: lambda a, b: a >= b,
    sympy.And: lambda *a: all(a),
    sympy.Or: lambda *a: any(a),
    sympy.Not: lambda a: not a,
    sympy.KroneckerDelta: lambda a, b: int(a == b),
    ceil_log2: lambda x: (_check_domain(x, 1, "ceil_log2") - 1).bit_length(),
    floor_log2: lambda x: _check_domain(x, 1, "floor_log2").bit_length() - 1,
    bit_count: lambda x: _check_domain(x, 0, "bit_count").bit_count(),
}


def _power(base, exponent):
    if isinstance(exponent, int) and exponent < 0:
        return Fraction(1, base ** (-exponent))
    return base**exponent


_OPERATIONS[sympy.Pow] = _power


def _operation(node: sympy.Basic) -> Callable:
    for kind, function in _OPERATIONS.items():
        if isinstance(node, kind):
            return function
    raise CompileError(f"cannot evaluate {type(node).__name__} in formula {node}")


#: Compiled formulas, by expression; cleared when it grows past _PROGRAM_LIMIT.
_PROGRAMS: dict[sympy.Basic, _Program] = {}
_PROGRAM_LIMIT = 256


def evaluate_exact(expr: sympy.Expr, n: int) -> int:
    """Evaluate a formula of this module exactly at an integer ``n``.

    Integer and rational arithmetic only. On the formulas of this module it gives
    the values of :func:`circuitlab.compile.schedules.evaluate_formula` (the tests
    compare them), but it compiles an expression once and reuses it, so a
    verification over many ``n`` stays fast.

    Raises
    ------
    CompileError
        If the value at ``n`` is undefined or not an integer.
    """
    program = _PROGRAMS.get(expr)
    if program is None:
        if len(_PROGRAMS) >= _PROGRAM_LIMIT:
            _PROGRAMS.clear()
        program = _PROGRAMS[expr] = _Program(expr)
    value = program.run({N_SYMBOL: int(n)})
    if value != int(value):
        raise CompileError(f"formula evaluated to {value} at n={n}, not an integer")
    return int(value)


def _max(*terms: sympy.Expr) -> sympy.Expr:
    """Return ``Max`` of the terms, flattened, with one copy of each and one number."""
    flat = []
    for term in terms:
        flat.extend(term.args if isinstance(term, exact_max) else (term,))
    terms = [sympy.sympify(term) for term in flat]
    numbers = [t for t in terms if t.is_Integer]
    symbolic = list(dict.fromkeys(t for t in terms if not t.is_Integer))
    if numbers:
        symbolic.append(max(numbers))
    if len(symbolic) == 1:
        return symbolic[0]
    return exact_max(*symbolic)


def _piecewise(*pieces: tuple) -> sympy.Expr:
    """Return ``Piecewise(*pieces)``, or the common value if every branch has it."""
    values = {sympy.sympify(value) for value, _ in pieces}
    if len(values) == 1:
        return values.pop()
    return sympy.Piecewise(*pieces)


def _bit(z: sympy.Expr, q) -> sympy.Expr:
    """Bit ``q`` of ``z`` as 0 or 1."""
    return sympy.Mod(sympy.floor(z / 2**q), 2)


def _shift(z: sympy.Expr, q) -> sympy.Expr:
    """``floor(z / 2**q)``."""
    return sympy.floor(z / 2**q) if q != 0 else z


def _trailing_zeros(h: sympy.Expr) -> sympy.Expr:
    """Number of trailing zero bits of an integer ``h >= 1``.

    ``h - 1`` clears the lowest one bit and sets the zeros below it, so
    ``bit_count(h - 1) = bit_count(h) - 1 + trailing_zeros(h)``.
    """
    return bit_count(h - 1) - bit_count(h) + 1


# ---------------------------------------------------------------------------
# Max-plus algebra and eventually affine sequences
# ---------------------------------------------------------------------------

#: Max-plus minus infinity (no path). Sums of two stay far below any depth.
NEG = -(1 << 40)


def _clip(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    x[x < NEG // 2] = NEG
    return x


def _mv(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Max-plus ``matrix (r, c) ⊗ vector (c,)``."""
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], NEG, dtype=np.int64)
    return _clip((matrix + vector[None, :]).max(axis=1))


def _vm(vector: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Max-plus ``vector (r,) ⊗ matrix (r, c)``."""
    return _mv(matrix.T, vector)


def _dot(row: np.ndarray, column: np.ndarray) -> int:
    return int(_clip(np.array([(row + column).max()]))[0]) if row.size else NEG


@dataclass
class _Seq:
    """Vector sequence ``v_i`` that is eventually affine, with a proof.

    ``v_i = values[i]`` for ``i <= start`` and ``v_i = values[start] + (i - start)
    * delta`` after that (entries equal to :data:`NEG` stay ``NEG``).

    The certificate for ``v_{i+1} = M ⊗ v_i`` (fixed max-plus matrix ``M``) at
    ``start``: with ``delta = v_{start+1} - v_start`` and equal finiteness
    patterns, every entry ``e`` has ``delta_f <= delta_e`` for every ``f`` it reads,
    and some maximising ``f`` has ``delta_f = delta_e``. Then the maximising term
    grows by the largest increment, so it stays maximal and every later step
    adds ``delta`` again (induction).
    """

    values: list[np.ndarray]
    delta: np.ndarray

    @property
    def start(self) -> int:
        return len(self.values) - 1

    def at(self, i: int) -> np.ndarray:
        if i <= self.start:
            return self.values[i]
        last = self.values[-1]
        return np.where(last == NEG, NEG, last + (i - self.start) * self.delta)

    def entry(self, e: int) -> _Scalar:
        last = int(self.values[-1][e])
        pieces = (
            ()
            if last == NEG
            else ((int(self.delta[e]), last - int(self.delta[e]) * self.start),)
        )
        return _Scalar(tuple(int(v[e]) for v in self.values[:-1]), pieces)

    @property
    def size(self) -> int:
        return len(self.values[0])


@dataclass(frozen=True)
class _Scalar:
    """An integer sequence: ``table[i]`` for ``i < len(table)``, then the maximum of
    the affine ``pieces`` ``(slope, intercept)``; no pieces means ``NEG`` (no path).
    """

    table: tuple[int, ...]
    pieces: tuple[tuple[int, int], ...]

    def envelope(self, i: int) -> int:
        if not self.pieces:
            return NEG
        return max(slope * i + intercept for slope, intercept in self.pieces)

    def at(self, i: int) -> int:
        return self.table[i] if i < len(self.table) else self.envelope(i)

    @property
    def never(self) -> bool:
        return not self.pieces and all(v == NEG for v in self.table)

    def top(self) -> tuple[int, int]:
        """Return the steepest piece (largest intercept among equal slopes)."""
        return max(self.pieces) if self.pieces else (0, NEG)

    def le(self, other: _Scalar) -> bool:
        """Return True if ``self(i) <= other(i)`` for every ``i >= 0``.

        Past every table and every crossing of two pieces, both sides are fixed
        affine functions, so checking up to there and comparing the steepest
        pieces decides it.
        """
        span = max(len(self.table), len(other.table))
        pieces = self.pieces + other.pieces
        for a, b in pieces:
            for c, d in pieces:
                if a != c:
                    span = max(span, math.ceil(Fraction(d - b, a - c)) + 1)
        for i in range(span + 1):
            if self.at(i) > other.at(i):
                return False
        if not self.pieces:
            return True
        return bool(other.pieces) and self.top()[0] <= other.top()[0]

    def expr(self, i: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
        """Return ``(indicator, value)``: the value at ``i`` when the indicator is 1.

        The indicator is 0 where the entry is ``NEG`` (no path). Table entries that
        differ from the pieces are corrected with ``KroneckerDelta``, so that the
        result has no ``Piecewise`` and can sit inside a :class:`max_over` body.
        """
        if not self.pieces:
            value = sympy.Integer(0)
            indicator = sympy.Integer(0)
            for m, v in enumerate(self.table):
                if v != NEG:
                    value += v * sympy.KroneckerDelta(i, m)
                    indicator += sympy.KroneckerDelta(i, m)
            return indicator, value
        value = _max(*(slope * i + intercept for slope, intercept in self.pieces))
        indicator = sympy.Integer(1)
        for m, v in enumerate(self.table):
            if v == NEG:
                indicator -= sympy.KroneckerDelta(i, m)
            elif v != self.envelope(m):
                value += (v - self.envelope(m)) * sympy.KroneckerDelta(i, m)
        return indicator, value


def _strictly_above(piece: tuple[int, int], others: list, start: int) -> bool:
    """Return True if ``piece`` exceeds every other piece at some integer ``i >= start``."""
    a, b = piece
    low, high = start, None
    for c, d in others:
        if a == c:
            if b <= d:
                return False
        elif a > c:
            low = max(low, (d - b) // (a - c) + 1)
        else:
            bound = -((d - b) // (c - a)) - 1
            high = bound if high is None else min(high, bound)
    return high is None or low <= high


def _upper_envelope(pieces: list[tuple[int, int]], start: int) -> tuple:
    """Drop, one at a time, the affine pieces never strictly the maximum for ``i >= start``."""
    kept = sorted(set(pieces))
    changed = True
    while changed and len(kept) > 1:
        changed = False
        for piece in kept:
            others = [other for other in kept if other != piece]
            if not _strictly_above(piece, others, start):
                kept.remove(piece)
                changed = True
                break
    return tuple(kept)


@dataclass
class _Env:
    """Entries that are each a :class:`_Scalar`; ``at(i)`` gives the vector."""

    entries: list[_Scalar]

    @property
    def size(self) -> int:
        return len(self.entries)

    def entry(self, e: int) -> _Scalar:
        return self.entries[e]

    def at(self, i: int) -> np.ndarray:
        return np.array([entry.at(i) for entry in self.entries], dtype=np.int64)


def _eventual(
    first: np.ndarray,
    matrix_at: Callable[[int], np.ndarray],
    fixed_from: int,
    what: str,
    limit: int = 400,
) -> _Seq:
    """Build ``v_0 = first``, ``v_{i+1} = matrix_at(i) ⊗ v_i`` with a certificate.

    ``matrix_at(i)`` must be the same matrix for every ``i >= fixed_from``.
    """
    values = [np.asarray(first, dtype=np.int64)]
    for i in range(limit):
        matrix = matrix_at(i)
        following = _mv(matrix, values[i])
        if i >= fixed_from and _certified(matrix, values[i], following):
            delta = np.where(values[i] == NEG, 0, following - values[i])
            return _Seq(values, delta)
        values.append(following)
    raise _no_formula(f"{what}: entry depths are not affine in {limit} steps")


def _certified(matrix: np.ndarray, v: np.ndarray, following: np.ndarray) -> bool:
    finite = v != NEG
    if not np.array_equal(finite, following != NEG):
        return False
    delta = np.where(finite, following - v, 0)
    terms = matrix + v[None, :]
    reads = (matrix != NEG) & finite[None, :]
    for e in np.flatnonzero(following != NEG):
        cols = np.flatnonzero(reads[e])
        if (delta[cols] > delta[e]).any():
            return False
        best = terms[e, cols].max()
        maximising = cols[terms[e, cols] == best]
        if not (delta[maximising] == delta[e]).any():
            return False
    return True


def _apply_seq(matrix: np.ndarray, seq: _Seq) -> _Env:
    """Return ``w_i = matrix ⊗ v_i`` for an eventually affine ``v``.

    From ``seq.start`` on, entry ``e`` of ``w`` is the maximum of the affine
    functions ``matrix[e, f] + v_i[f]``; before, the values are tabulated.
    """
    s = seq.start
    base = seq.values[-1]
    entries = []
    table = [_mv(matrix, seq.values[i]) for i in range(s)]
    for e in range(matrix.shape[0]):
        cols = np.flatnonzero((matrix[e] != NEG) & (base != NEG))
        pieces = [
            (int(seq.delta[f]), int(matrix[e, f] + base[f] - seq.delta[f] * s))
            for f in cols
        ]
        entries.append(
            _Scalar(tuple(int(v[e]) for v in table), _upper_envelope(pieces, s))
        )
    return _Env(entries)


def _row_seq(first: np.ndarray, matrix: np.ndarray, what: str) -> _Seq:
    """Return ``r_i = first ⊗ matrix^i`` (row vectors) with a certificate."""
    transposed = matrix.T.copy()
    return _eventual(first, lambda i: transposed, 0, what)


# ---------------------------------------------------------------------------
# Signatures and gadgets (one unit of the circuit, built on a scratch circuit)
# ---------------------------------------------------------------------------

#: Weights of a gate in the two depth measures: every gate, or nonlinear gates only.
_WEIGHTS = ("depth", "nonlinear_depth")


@dataclass(frozen=True)
class _Signature:
    """Form, shapes and constant pattern of one affine map (or of a state vector).

    ``parts`` contains ``(name, shape, entries)`` in name order, ``entries`` row-major
    with ``None`` for a gate (or input) and ``(numerator, denominator)`` for a
    constant. Gate counts and depths of the circuitlab builders depend on their
    operands only through this pattern, because folding looks only at constants.
    """

    form: str
    parts: tuple

    @property
    def gates(self) -> int:
        return sum(entry is None for _, _, entries in self.parts for entry in entries)


def _signature(c: Circuit, parts: dict, form: str) -> tuple[_Signature, np.ndarray]:
    """Return the signature of one map (batch axis of length 1) and its gate entries."""
    described = []
    gate_nodes = []
    for name in sorted(parts):
        array = np.asarray(parts[name])[0]
        entries = []
        for node in array.ravel().tolist():
            if c.op[node] == Op.CONST:
                value = c.const_value[node]
                entries.append((int(value.numerator), int(value.denominator)))
            else:
                entries.append(None)
                gate_nodes.append(node)
        described.append((name, tuple(array.shape), tuple(entries)))
    return _Signature(form, tuple(described)), np.asarray(gate_nodes, dtype=np.int64)


def _realize(c: Circuit, sig: _Signature, prefix: str) -> tuple[dict, np.ndarray]:
    """Add a map of signature ``sig`` to ``c``: inputs for gates, constants as given."""
    count = sig.gates
    inputs = c.add_input(prefix, (count,)) if count else np.zeros(0, dtype=np.int64)
    parts = {}
    k = 0
    for name, shape, entries in sig.parts:
        array = np.empty(len(entries), dtype=np.int64)
        for index, entry in enumerate(entries):
            if entry is None:
                array[index] = inputs[k]
                k += 1
            else:
                array[index] = c.const(Fraction(*entry))
        parts[name] = array.reshape((1,) + tuple(shape))
    return parts, np.asarray(inputs, dtype=np.int64)


def _longest_paths(
    c: Circuit, sources: np.ndarray, targets: np.ndarray
) -> dict[str, np.ndarray]:
    """Return, per weight kind, the longest paths ``(len(targets), len(sources) + 1)``.

    Column ``k < len(sources)`` is the path from ``sources[k]``. The last column is
    the path from any constant or other input, because all of those have depth 0 in
    the real circuit. Gates are processed one batch at a time, which is valid
    because the gates of a batch do not read each other, and nothing recurses.
    """
    count = len(sources)
    nodes = c.num_nodes
    op = c.op
    leaf = (op == Op.CONST) | (op == Op.INPUT)
    starts = list(c.batch_starts) + [nodes]
    ptr = c.fanin_ptr
    fanin = c.fanin
    result = {}
    for kind in _WEIGHTS:
        weights = (
            np.ones(nodes, dtype=np.int64) if kind == "depth" else NONLINEAR_MASK[op]
        )
        paths = np.full((nodes, count + 1), NEG, dtype=np.int64)
        paths[leaf, count] = 0
        paths[sources] = NEG
        paths[sources, np.arange(count)] = 0
        for lo, hi in zip(starts[:-1], starts[1:]):
            if leaf[lo]:
                continue
            begin, end = ptr[lo], ptr[hi]
            rows = paths[fanin[begin:end]]
            best = np.maximum.reduceat(rows, ptr[lo:hi] - begin, axis=0)
            paths[lo:hi] = np.where(best == NEG, NEG, best + weights[lo:hi, None])
        result[kind] = _clip(paths[targets])
    return result


def _with_const_row(matrix: np.ndarray) -> np.ndarray:
    """Append the row of the constant source (depth 0, reached only from itself)."""
    row = np.full((1, matrix.shape[1]), NEG, dtype=np.int64)
    row[0, -1] = 0
    return np.vstack([matrix, row])


def _split_columns(paths: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    """Split ``(targets, sum(widths) + 1)`` into blocks, each with the constant column."""
    out = []
    offset = 0
    for width in widths:
        block = np.hstack([paths[:, offset : offset + width], paths[:, -1:]])
        out.append(_with_const_row(block))
        offset += width
    return out


@dataclass
class _CombineGadget:
    """One combine of two maps: gates, result signature and max-plus matrices.

    ``left[kind]`` maps the depth vector of the left operand (gate entries, then
    the constant source) to that of the result; ``right[kind]`` likewise.
    """

    gates: int
    result: _Signature
    left: dict[str, np.ndarray]
    right: dict[str, np.ndarray]


@dataclass
class _OutputGadget:
    """Apply of h0 to one map and, for spec models, the readout on the state.

    ``apply_row[kind]`` is the longest path from each map entry (and the
    constant source) to any state output, ``final_row[kind]`` also to the readout
    outputs.
    """

    apply_gates: int
    readout_gates: int
    apply_row: dict[str, np.ndarray]
    final_row: dict[str, np.ndarray]


@dataclass
class _Value:
    """A segment product in the abstract circuit: length, signature, entry depths."""

    length: int
    sig: _Signature
    depth: dict[str, np.ndarray]


class _Structure:
    """Gadgets of one model under one folding setting and PD combine mode."""

    def __init__(self, model, fold: bool, pd_combine: str):
        self.model = model
        self.fold = fold
        self.pd_combine = pd_combine
        self.has_readout = bool(model.has_readout)
        self._combines: dict = {}
        self._outputs: dict = {}
        self._signatures: dict = {}
        self.classes: list[_Signature] | None = None

        scratch = Circuit(fold=fold, capacity=256)
        ext = model.add_inputs(scratch, 1)
        self.ext_width = int(ext.shape[1])
        if model.is_linear:
            before = scratch.num_gates
            maps = model.step_maps(scratch, ext)
            if maps.form == "pd" and pd_combine == "monomial":
                # Mirrors compile._compile_network, which converts monomial PD step
                # maps to dense once per position.
                maps = to_dense(scratch, maps)
            self.step_gates = scratch.num_gates - before
            self.leaf_sig, nodes = _signature(scratch, maps.parts, maps.form)
            self.leaf = _Value(
                1,
                self.leaf_sig,
                {
                    "depth": np.append(scratch.depth[nodes], 0).astype(np.int64),
                    "nonlinear_depth": np.append(
                        scratch.nonlinear_depth[nodes], 0
                    ).astype(np.int64),
                },
            )

    # ---------------------------------------------------------------- combines

    def _build_combine(self, left: _Signature, right: _Signature, paths: bool):
        scratch = Circuit(fold=self.fold, capacity=1024)
        left_parts, left_nodes = _realize(scratch, left, "left")
        right_parts, right_nodes = _realize(scratch, right, "right")
        before = scratch.num_gates
        result = combine(
            scratch,
            AffineMaps(left.form, left_parts),
            AffineMaps(right.form, right_parts),
            self.pd_combine,
        )
        gates = scratch.num_gates - before
        sig, nodes = _signature(scratch, result.parts, result.form)
        if not paths:
            return sig, None
        sources = np.concatenate([left_nodes, right_nodes])
        found = _longest_paths(scratch, sources, nodes)
        widths = [len(left_nodes), len(right_nodes)]
        split = {kind: _split_columns(found[kind], widths) for kind in _WEIGHTS}
        return sig, _CombineGadget(
            gates,
            sig,
            {kind: split[kind][0] for kind in _WEIGHTS},
            {kind: split[kind][1] for kind in _WEIGHTS},
        )

    def combined_signature(self, left: _Signature, right: _Signature) -> _Signature:
        key = (left, right)
        if key in self._combines:
            return self._combines[key].result
        if key not in self._signatures:
            self._signatures[key] = self._build_combine(left, right, paths=False)[0]
        return self._signatures[key]

    def gadget(self, left: _Signature, right: _Signature) -> _CombineGadget:
        key = (left, right)
        if key not in self._combines:
            self._combines[key] = self._build_combine(left, right, paths=True)[1]
        return self._combines[key]

    def combine_values(self, left: _Value, right: _Value) -> _Value:
        gadget = self.gadget(left.sig, right.sig)
        depth = {
            kind: np.maximum(
                _mv(gadget.left[kind], left.depth[kind]),
                _mv(gadget.right[kind], right.depth[kind]),
            )
            for kind in _WEIGHTS
        }
        return _Value(left.length + right.length, gadget.result, depth)

    # ---------------------------------------------------------------- classes

    def find_classes(self, limit: int | None = None) -> None:
        """Find ``T`` and the signature of every segment length below it.

        Requires that all bracketings of a segment of length ``L`` give one
        signature, that lengths ``T .. 2T - 1`` all give the same signature
        ``S``, and that combining ``S`` with any class on either side gives ``S``.
        Then every length ``>= T`` gives ``S`` by induction (one of the two parts of
        a longer segment has length ``>= T``).
        """
        if limit is None:
            # NOTE: a heuristic bound. DPLR ranks reach D after at most D maps, and
            # permutation supports settle within D steps. Other constant patterns
            # may need longer segments, and then they get no formula.
            limit = max(16, 2 * self.model.state_dim + 2)
        by_length = [None, self.leaf_sig]
        for threshold in range(1, limit + 1):
            while len(by_length) < 2 * threshold:
                length = len(by_length)
                found = {
                    self.combined_signature(by_length[i], by_length[length - i])
                    for i in range(1, length)
                }
                if len(found) != 1:
                    raise _no_formula(
                        f"{self.model.name}: segments of length {length} have "
                        f"{len(found)} different constant patterns"
                    )
                by_length.append(found.pop())
            final = by_length[threshold]
            if any(
                by_length[length] != final for length in range(threshold, 2 * threshold)
            ):
                continue
            absorbing = all(
                self.combined_signature(by_length[i], final) == final
                and self.combined_signature(final, by_length[i]) == final
                for i in range(1, threshold + 1)
            )
            if absorbing:
                self.classes = by_length[1 : threshold + 1]
                self.T = threshold
                self.q_star = (threshold - 1).bit_length()
                logger.debug("%s: %d segment classes", self.model.name, threshold)
                return
        raise _no_formula(
            f"{self.model.name}: the constant pattern of a segment product does not "
            f"settle within length {limit}"
        )

    def cls(self, length: int) -> _Signature:
        return self.classes[min(length, self.T) - 1]

    @property
    def star(self) -> _Signature:
        return self.classes[-1]

    # ---------------------------------------------------------------- outputs

    def output(self, sig: _Signature) -> _OutputGadget:
        if sig in self._outputs:
            return self._outputs[sig]
        model = self.model
        scratch = Circuit(fold=self.fold, capacity=1024)
        model.add_inputs(scratch, 1)
        h0 = np.asarray(model.initial_state(scratch))
        parts, nodes = _realize(scratch, sig, "map")
        before = scratch.num_gates
        state = apply(scratch, h0[None, :], AffineMaps(sig.form, parts))[0]
        apply_gates = scratch.num_gates - before
        before = scratch.num_gates
        readout = np.zeros(0, dtype=np.int64)
        if self.has_readout:
            model.add_readout(scratch, state)
            readout = np.concatenate(
                [scratch.outputs["readout"].ravel(), scratch.outputs["accept"].ravel()]
            )
        readout_gates = scratch.num_gates - before
        found = _longest_paths(scratch, nodes, np.concatenate([state, readout]))
        dim = len(state)
        gadget = _OutputGadget(
            apply_gates,
            readout_gates,
            {kind: found[kind][:dim].max(axis=0) for kind in _WEIGHTS},
            {kind: found[kind].max(axis=0) for kind in _WEIGHTS},
        )
        self._outputs[sig] = gadget
        return gadget

    def out_depth(self, value: _Value, kind: str, final: bool) -> int:
        gadget = self.output(value.sig)
        row = (gadget.final_row if final else gadget.apply_row)[kind]
        return _dot(row, value.depth[kind])


# ---------------------------------------------------------------------------
# Depth terms: maxima of eventually affine paths
# ---------------------------------------------------------------------------

#: Bound variables of max_over (never named n).
_Q = sympy.Symbol("q", integer=True, nonnegative=True)
_P = sympy.Symbol("p", integer=True, nonnegative=True)


def _shifted(seq: _Seq, k: int) -> _Seq:
    """Return the sequence ``i -> seq.at(i + k)``."""
    if k <= seq.start:
        return _Seq(seq.values[k:], seq.delta)
    return _Seq([seq.at(k)], seq.delta)


def _constant_scalar(value: int) -> _Scalar:
    return _Scalar((), () if value == NEG else ((0, int(value)),))


def _excess(a: _Scalar, b: _Scalar) -> float:
    """Return ``max over i >= 0 of a(i) - b(i)`` (``inf`` if unbounded, ``-inf`` if
    ``a`` never has a path)."""
    if a.never:
        return -math.inf
    if b.never:
        return math.inf
    span = max(len(a.table), len(b.table))
    pieces = a.pieces + b.pieces
    for p, r in pieces:
        for c, d in pieces:
            if p != c:
                span = max(span, math.ceil(Fraction(d - r, p - c)) + 1)
    if a.pieces and (not b.pieces or a.top()[0] > b.top()[0]):
        return math.inf
    best = -math.inf
    for index in range(span + 1):
        left, right = a.at(index), b.at(index)
        if left == NEG:
            continue
        if right == NEG:
            return math.inf
        best = max(best, left - right)
    return best


def _pair_le(pair: tuple[_Scalar, _Scalar], other: tuple[_Scalar, _Scalar]) -> bool:
    """Return True if ``pair[0](i) + pair[1](q) <= other[0](i) + other[1](q)`` for
    all ``i, q >= 0`` (a sufficient test: the two excesses are independent)."""
    return _excess(pair[0], other[0]) + _excess(pair[1], other[1]) <= 0


def _pair_terms(row: _Seq, i: sympy.Expr, col, q: sympy.Expr | None) -> sympy.Expr:
    """Return ``max_e row_e(i) + col_e(q)``: a path through entry ``e`` of a map.

    ``col`` is a :class:`_Seq` indexed by ``q`` or a constant vector. Entries whose
    path is never longer than another entry's, for any ``i`` and ``q``, are dropped.
    """
    pairs = []
    for e in range(row.size):
        left = row.entry(e)
        right = (
            _constant_scalar(col[e]) if isinstance(col, np.ndarray) else col.entry(e)
        )
        if not (left.never or right.never):
            pairs.append((left, right))
    pairs = list(dict.fromkeys(pairs))
    kept = []
    for k, pair in enumerate(pairs):
        dominated = False
        for j, other in enumerate(pairs):
            if j == k or not _pair_le(pair, other):
                continue
            if j < k or not _pair_le(other, pair):
                dominated = True
                break
        if not dominated:
            kept.append(pair)
    terms = []
    for left, right in kept:
        on_left, value_left = left.expr(i)
        if q is None:
            on_right, value_right = sympy.Integer(1), sympy.Integer(right.pieces[0][1])
        else:
            on_right, value_right = right.expr(q)
        terms.append(on_left * on_right * (value_left + value_right))
    return _max(*terms) if terms else sympy.Integer(0)


@dataclass
class _Output:
    """Reader of a final segment product: a row vector over its entries.

    ``star_row`` reads products of the final class, and ``extra`` is a constant
    path added to those (or ``NEG``). ``small`` gives the depth of an explicit
    abstract value of any class.
    """

    star_row: np.ndarray
    extra: int
    small: Callable[[_Value], int]


def _output(st: _Structure, kind: str, final: bool) -> _Output:
    gadget = st.output(st.star)
    row = (gadget.final_row if final else gadget.apply_row)[kind]
    return _Output(row, NEG, lambda value: st.out_depth(value, kind, final))


def _blocks(st: _Structure, kind: str) -> _Seq:
    """Depth vectors of balanced blocks ``F(p)`` of ``2**p`` step maps."""

    def matrix_at(p: int) -> np.ndarray:
        sig = st.cls(1 << min(p, 62))
        gadget = st.gadget(sig, sig)
        return np.maximum(gadget.left[kind], gadget.right[kind])

    return _eventual(st.leaf.depth[kind], matrix_at, st.q_star, "balanced blocks")


def _block_value(st: _Structure, blocks: dict, p: int) -> _Value:
    return _Value(
        1 << p, st.cls(1 << p), {kind: blocks[kind].at(p) for kind in _WEIGHTS}
    )


class _BitChain:
    """Final values that are chains of blocks over the one bits of an integer ``z``.

    Value ``V(0)`` is the block ``F(shift)``. For ``z >= 1`` the blocks
    ``F(q + shift)`` of the one bits ``q`` of ``z`` join an accumulator from the
    lowest bit up: ``acc = acc ∘ F`` (``side == "left"``: Kogge-Stone, tree) or
    ``acc = F ∘ acc`` (``"right"``: Sklansky, Ladner-Fischer on pairs). Seen from
    the output, the accumulator path passes the combines of the highest bits
    first, so a block at bit ``q`` lies below ``j - 1`` of them, ``j`` being the
    number of one bits of ``z`` at or above ``q``.

    Bits below ``q1`` (with ``2**(q1 + shift) >= T``) form the low part ``r``.
    Its value ``V(r)`` is computed explicitly, and only the combine at the lowest
    higher bit has an accumulator of a small class.
    """

    def __init__(self, st: _Structure, blocks: dict, side: str, shift: int):
        self.st = st
        self.blocks = blocks
        self.side = side
        self.shift = shift
        q1 = 0
        while (1 << (q1 + shift)) < st.T:
            q1 += 1
        self.q1 = q1
        self._setups: dict = {}

    def block(self, q: int) -> _Value:
        return _block_value(self.st, self.blocks, q + self.shift)

    def value(self, z: int) -> _Value:
        acc = self.block(0)
        for q in range(z.bit_length()):
            if z >> q & 1:
                block = self.block(q)
                if self.side == "left":
                    acc = self.st.combine_values(acc, block)
                else:
                    acc = self.st.combine_values(block, acc)
        return acc

    def _pair(self, acc: _Signature, block: _Signature):
        st = self.st
        if self.side == "left":
            gadget = st.gadget(acc, block)
            return gadget.left, gadget.right
        gadget = st.gadget(block, acc)
        return gadget.right, gadget.left

    def setup(self, kind: str, out: _Output) -> tuple[dict, _Output]:
        # The cache keeps ``out`` alive, so its id is not reused for another one.
        key = (kind, id(out))
        if key in self._setups:
            return self._setups[key]
        st = self.st
        acc_m, blk_m = self._pair(st.star, st.star)
        phi = _shifted(self.blocks[kind], self.q1 + self.shift)
        data = {
            "psi": _row_seq(out.star_row, acc_m[kind], "chain of combines"),
            "chi": _apply_seq(blk_m[kind], phi),
            "first": [],
            "low": [],
            "same": [],
        }
        for r in range(1 << self.q1):
            low = self.value(r)
            first_acc, first_blk = self._pair(low.sig, st.star)
            data["first"].append(_apply_seq(first_blk[kind], phi))
            data["low"].append(_mv(first_acc[kind], low.depth[kind]))
            data["same"].append(low.sig == st.star)
        self._setups[key] = (data, out)
        return self._setups[key]

    def small(self, z: int, out: _Output) -> int:
        return out.small(self.value(z))

    def high(self, z: sympy.Expr, r: int, kind: str, out: _Output, var) -> sympy.Expr:
        """Depth for ``z`` with low part ``r`` and a one bit at or above ``q1``."""
        data, _ = self.setup(kind, out)
        q1 = self.q1
        high = _shift(z, q1)
        count = bit_count(high)
        top = floor_log2(z)
        lowest = q1 + _trailing_zeros(high)
        psi = data["psi"]
        terms = [_pair_terms(psi, count - 1, data["low"][r], None)]
        if data["same"][r]:
            # The lowest high block combines like every other one.
            bottom = q1
        else:
            terms.append(_pair_terms(psi, count - 1, data["first"][r], lowest - q1))
            bottom = lowest + 1
        j = bit_count(_shift(z, var))
        body = _bit(z, var) * _pair_terms(psi, j - 1, data["chi"], var - q1)
        if body != 0:
            terms.append(max_over(body, var, bottom, top))
        if out.extra != NEG:
            terms.append(sympy.Integer(out.extra))
        return _max(*terms)

    def final(self, z: sympy.Expr, kind: str, out: _Output) -> sympy.Expr:
        """Depth of ``V(z)`` read by ``out``, for any ``z >= 0``."""
        size = 1 << self.q1
        pieces = [(self.small(value, out), sympy.Eq(z, value)) for value in range(size)]
        for r in range(size):
            condition = sympy.Eq(sympy.Mod(z, size), r) if r < size - 1 else sympy.true
            pieces.append((self.high(z, r, kind, out, _Q), condition))
        return _piecewise(*pieces)

    def check_fill(self, kind: str, out: _Output, what: str) -> None:
        """Check that setting a high bit of ``z`` never lowers the depth.

        Setting bit ``p`` adds a combine above every block below ``p``, so the
        chain row ``psi`` must not decrease along the chain. It may also turn the
        old lowest high block into an ordinary one, so that block's path through
        the small class must not exceed its ordinary path.
        """
        data, _ = self.setup(kind, out)
        psi = data["psi"]
        if (psi.at(1) < psi.at(0)).any():
            raise _no_formula(f"{what}: a longer chain can be shallower")
        chi = data["chi"]
        for r, first in enumerate(data["first"]):
            if data["same"][r]:
                continue
            for e in range(chi.size):
                if not first.entry(e).le(chi.entry(e)):
                    raise _no_formula(f"{what}: a small accumulator class is deeper")

    def prefix(self, m: sympy.Expr, kind: str, out: _Output, what: str) -> sympy.Expr:
        """Return the maximum depth of ``V(z)`` over ``0 <= z <= m``.

        See :func:`_prefix_maximum`. :meth:`check_fill` proves that filling the
        free high bits with ones never lowers the depth.
        """
        self.check_fill(kind, out, what)
        best = _prefix_maximum(self, m, kind, out, 0, single_top=True)
        return _piecewise((self.small(0, out), sympy.Eq(m, 0)), (best, True))


class _BrentKung:
    """Brent-Kung final values: ``F(c_1) ∘ F(c_2) ∘ ... ∘ F(c_t)`` over the one bits
    ``c_1 > c_2 > ...`` of ``x``, joined left to right (the up-sweep block of the
    top bit, then one down-sweep combine per lower bit).

    From the output the accumulator path passes the combines of the lowest bits
    first. Bits below ``q1 = q_star`` give small right operands. Their combines
    are applied explicitly per low part ``r``, which gives a row ``rho_r`` and a
    constant ``lam_r`` for the low blocks themselves.
    """

    def __init__(self, st: _Structure, blocks: dict):
        self.st = st
        self.blocks = blocks
        self.q1 = st.q_star
        self._setups: dict = {}

    def value(self, x: int) -> _Value:
        top = x.bit_length() - 1
        acc = _block_value(self.st, self.blocks, top)
        for p in range(top - 1, -1, -1):
            if x >> p & 1:
                acc = self.st.combine_values(acc, _block_value(self.st, self.blocks, p))
        return acc

    def setup(self, kind: str, out: _Output) -> tuple[dict, _Output]:
        # The cache keeps ``out`` alive, so its id is not reused for another one.
        key = (kind, id(out))
        if key in self._setups:
            return self._setups[key]
        st = self.st
        star = st.gadget(st.star, st.star)
        phi = self.blocks[kind]
        data = {
            "phi": _shifted(phi, self.q1),
            "chi": _apply_seq(star.right[kind], _shifted(phi, self.q1)),
            "psi": [],
            "lam": [],
        }
        for r in range(1 << self.q1):
            row = out.star_row
            lam = NEG
            for p in range(self.q1):
                if r >> p & 1:
                    gadget = st.gadget(st.star, st.cls(1 << p))
                    lam = max(lam, _dot(_vm(row, gadget.right[kind]), phi.at(p)))
                    row = _vm(row, gadget.left[kind])
            data["psi"].append(_row_seq(row, star.left[kind], "Brent-Kung chain"))
            data["lam"].append(lam)
        self._setups[key] = (data, out)
        return self._setups[key]

    def small(self, x: int, out: _Output) -> int:
        return out.small(self.value(x))

    def high(self, x: sympy.Expr, r: int, kind: str, out: _Output, var) -> sympy.Expr:
        data, _ = self.setup(kind, out)
        q1 = self.q1
        psi = data["psi"][r]
        count = bit_count(_shift(x, q1))
        top = floor_log2(x)
        terms = [_pair_terms(psi, count - 1, data["phi"], top - q1)]
        below = bit_count(_shift(sympy.Mod(x, 2**var), q1))
        body = _bit(x, var) * _pair_terms(psi, below, data["chi"], var - q1)
        if body != 0:
            terms.append(max_over(body, var, q1, top - 1))
        for constant in (data["lam"][r], out.extra):
            if constant != NEG:
                terms.append(sympy.Integer(constant))
        return _max(*terms)

    def final(self, x: sympy.Expr, kind: str, out: _Output) -> sympy.Expr:
        size = 1 << self.q1
        pieces = [
            (self.small(value, out), sympy.Eq(x, value)) for value in range(1, size)
        ]
        for r in range(size):
            condition = sympy.Eq(sympy.Mod(x, size), r) if r < size - 1 else sympy.true
            pieces.append((self.high(x, r, kind, out, _Q), condition))
        return _piecewise(*pieces)

    def prefix(self, n: sympy.Expr, kind: str, out: _Output, what: str) -> sympy.Expr:
        """Return the maximum depth of the values ``1 <= x <= n``.

        Setting a high bit below the top bit adds one combine above every lower
        block, so the chain rows must not decrease (checked here). A new top bit
        changes the base block, so the maximum over ``x < 2**top`` runs over the
        top bit.
        """
        data, _ = self.setup(kind, out)
        for psi in data["psi"]:
            if (psi.at(1) < psi.at(0)).any():
                raise _no_formula(f"{what}: a longer chain can be shallower")
        return _prefix_maximum(self, n, kind, out, 1, single_top=False)


def _prefix_maximum(
    engine, m: sympy.Expr, kind: str, out: _Output, low: int, single_top: bool
):
    """Return the maximum depth of the values ``low <= z <= m`` (``m >= 1``).

    The candidates are ``z = m`` and, for each one bit ``q`` of ``m``, the ``z``
    that keep the bits of ``m`` above ``q``, clear bit ``q`` and choose the lower
    bits freely. For ``q >= q1`` the best choice sets every high bit below ``q``
    (the caller has checked that this never lowers the depth) and tries every low
    part ``r``. Below ``q1`` every choice is tried.

    For the top bit of ``m`` the candidates are all ``z < 2**top``. With
    ``single_top`` the filled value with top bit ``top - 1`` is enough, because a
    new top bit only adds combines above every block. Otherwise every smaller top
    bit is tried.
    """
    q1 = engine.q1
    size = 1 << q1
    small = {z: engine.small(z, out) for z in range(low, size)}

    def small_max(limit: int) -> int:
        return max((v for z, v in small.items() if z < limit), default=0)

    top = floor_log2(m)
    # Conditions stay defined where m < 1: evaluate_formula decides the conditions
    # of nested Piecewise branches even inside branches it then drops.
    top_known = floor_log2(sympy.Max(1, m))
    pieces = [(small_max(1 << b), sympy.Eq(top_known, b)) for b in range(q1 + 1)]
    if single_top:
        filled = _max(
            *(engine.high(2**top - size + r, r, kind, out, _Q) for r in range(size))
        )
    else:
        body = _max(
            *(
                engine.high(2 ** (_P + 1) - size + r, r, kind, out, _Q)
                for r in range(size)
            )
        )
        filled = max_over(body, _P, q1, top - 1) if body != 0 else sympy.Integer(0)
    pieces.append((_max(sympy.Integer(small_max(size)), filled), sympy.true))
    terms = [engine.final(m, kind, out), _piecewise(*pieces)]
    above = sympy.floor(m / 2 ** (_P + 1)) * 2 ** (_P + 1)
    options = _max(
        *(engine.high(above + 2**_P - size + r, r, kind, out, _Q) for r in range(size))
    )
    if options != 0:
        terms.append(max_over(_bit(m, _P) * options, _P, q1, top - 1))
    for q in range(q1):
        prefix_above = sympy.floor(m / 2 ** (q + 1)) * 2 ** (q + 1)
        choices = [engine.final(prefix_above + w, kind, out) for w in range(1 << q)]
        condition = sympy.And(sympy.Eq(_bit(m, q), 1), top_known > q)
        terms.append(_piecewise((_max(*choices), condition), (0, True)))
    return _max(*terms)


def _runs(values: list[int], var: sympy.Expr) -> list[tuple]:
    """Return Piecewise branches ``(value, var <= end)`` for ``values[k]`` at ``var = k + 1``.

    Runs of equal values become one branch.
    """
    pieces = []
    k = 0
    while k < len(values):
        end = k
        while end + 1 < len(values) and values[end + 1] == values[k]:
            end += 1
        pieces.append((sympy.Integer(int(values[k])), var <= end + 1))
        k = end + 1
    return pieces


def _sequence_formula(
    explicit: Callable[[int], int],
    seq: _Seq,
    row: np.ndarray,
    first: int,
    var: sympy.Expr,
    prefix_max: bool,
) -> sympy.Expr:
    """Formula of ``d(x) = row ⊗ seq_{x - first}`` for ``x >= first`` and
    ``explicit(x)`` below, or of its running maximum when ``prefix_max``.

    The tail is a maximum of affine pieces with slopes ``>= 0``, so it does not
    decrease, and from its start the running maximum is the larger of the last
    explicit maximum and the tail.
    """
    scalar = _apply_seq(row[None, :], seq).entry(0)
    if not scalar.pieces:
        raise _no_formula("a state that no path reaches")
    if min(slope for slope, _ in scalar.pieces) < 0:
        raise _no_formula("a depth that decreases along the sequence")
    begin = first + len(scalar.table)
    values = [
        explicit(x) if x < first else scalar.at(x - first) for x in range(1, begin)
    ]

    def tail_value(x: int) -> int:
        return scalar.envelope(x - first)

    if prefix_max and values:
        values = [int(v) for v in np.maximum.accumulate(values)]
    reached = values[-1] if prefix_max and values else NEG

    def tail_fits(keep: int) -> bool:
        # The last branch, max(floor, tail(x)), must give the values after
        # ``keep`` and, from ``begin`` on, max(reached, tail(x)).
        floor_value = values[keep - 1] if prefix_max and keep else NEG
        if any(
            max(floor_value, tail_value(x)) != values[x - 1]
            for x in range(keep + 1, begin)
        ):
            return False
        return reached <= max(floor_value, tail_value(begin))

    keep = len(values)
    while keep > 0 and tail_fits(keep - 1):
        keep -= 1
    floor_value = values[keep - 1] if prefix_max and keep else NEG
    values = values[:keep]
    tail = _max(
        *(slope * (var - first) + intercept for slope, intercept in scalar.pieces)
    )
    if floor_value > tail_value(keep + 1):
        tail = _max(sympy.Integer(floor_value), tail)
    if not values:
        return tail
    return sympy.Piecewise(*_runs(values, var), (tail, sympy.true))


# ---------------------------------------------------------------------------
# Combine counts per class pair (sizes)
# ---------------------------------------------------------------------------


def _at_least(x: sympy.Expr, bound: int) -> sympy.Expr:
    """1 if ``x >= bound`` else 0, for integers."""
    return sympy.Min(1, sympy.Max(0, x - bound + 1))


def _targets_at_level(m: sympy.Expr, k: int | sympy.Expr) -> sympy.Expr:
    """Number of ``0 <= i < m`` with bit ``k`` set."""
    block = 2 ** (k + 1)
    return 2**k * sympy.floor(m / block) + sympy.Max(0, sympy.Mod(m, block) - 2**k)


def _one_bits_below(m: sympy.Expr, upper: sympy.Expr) -> sympy.Expr:
    """Total number of one bits of ``0, 1, ..., m - 1``, summed over bit positions
    ``0 .. upper`` (``upper >= ceil_log2(m) - 1``)."""
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    return sympy.Sum(_targets_at_level(m, k), (k, 0, upper))


class _Counts:
    """Number of combines per pair of operand classes, keyed by class lengths.

    A class is a length ``1 .. T - 1`` or ``T`` for every length ``>= T``.
    """

    def __init__(self, T: int):
        self.T = T
        self.table: dict[tuple[int, int], sympy.Expr] = {}

    def key(self, length: int) -> int:
        return min(length, self.T)

    def add(self, left: int, right: int, count: sympy.Expr) -> None:
        key = (self.key(left), self.key(right))
        self.table[key] = self.table.get(key, sympy.Integer(0)) + count


def _sklansky_counts(counts: _Counts, m: sympy.Expr, unit: int, upper) -> None:
    """Add the combines of Sklansky on ``m`` elements of ``unit`` step maps each.

    Level ``k`` combines the block of ``2**k`` elements before element ``i`` (bit
    ``k`` set) with the ``(i mod 2**k) + 1`` elements ending at ``i``. There are
    ``floor((m + 2**k - j) / 2**(k+1))`` such ``i`` with ``(i mod 2**k) + 1 = j``.
    Summed over the levels ``k >= q``, that is ``floor((m - j) / 2**q)``, the
    number of integers in ``1 .. m - j`` divisible by ``2**q``.
    """
    T = counts.T
    q = 0
    while unit * (1 << q) < T:
        q += 1
    for k in range(q):
        s = 1 << k
        for j in range(1, s + 1):
            counts.add(unit * s, unit * j, sympy.floor((m + s - j) / (2 * s)))
    small_total = sympy.Integer(0)
    for j in range(1, T):
        if unit * j >= T:
            break
        count = sympy.Max(0, sympy.floor((m - j) / 2**q))
        counts.add(T, unit * j, count)
        small_total += count
    rest = _one_bits_below(m, upper) - small_total
    rest -= sum((_targets_at_level(m, k) for k in range(q)), sympy.Integer(0))
    counts.add(T, T, rest)


def _combine_counts(st: _Structure, strategy: str) -> _Counts:
    n = N_SYMBOL
    T = st.T
    qs = st.q_star
    levels = ceil_log2(n)
    counts = _Counts(T)
    if strategy == "serial":
        for i in range(1, T):
            counts.add(i, 1, _at_least(n - 1, i))
        counts.add(T, 1, sympy.Max(0, n - T))
    elif strategy == "tree":
        # Level k combines blocks of 2**k; only the leftmost combine of a level can
        # have a shorter left part, (y mod 2**k) + 1 with y = n - 1, if bit k of y is set.
        y = n - 1
        total = n - 1
        for k in range(qs):
            s = 1 << k
            count = sympy.floor((n - 1 + s) / (2 * s))
            total -= count
            bit = _bit(y, k)
            counts.add(s, s, count - bit)
            for v in range(s):
                counts.add(v + 1, s, bit * sympy.KroneckerDelta(sympy.Mod(y, s), v))
        high = sympy.Min(1, _shift(y, qs))
        low = sympy.Mod(y, 1 << qs)
        small = sympy.Integer(0)
        for length in range(1, T):
            count = high * sympy.KroneckerDelta(low, length - 1)
            counts.add(length, T, count)
            small += count
        counts.add(T, T, total - small)
    elif strategy == "kogge-stone":
        # Level k: slot i >= 2**k gets a left part of min(i - 2**k + 1, 2**k) maps.
        for k in range(qs):
            s = 1 << k
            for j in range(1, s):
                counts.add(j, s, _at_least(n, s + j))
            counts.add(s, s, sympy.Max(0, n - 2 * s + 1))
        small = sympy.Integer(0)
        for j in range(1, T):
            count = sympy.Piecewise(
                (0, n - j < 2**qs), (floor_log2(n - j) - qs + 1, True)
            )
            counts.add(j, T, count)
            small += count
        total = sympy.Piecewise(
            (0, levels <= qs), ((levels - qs) * n - 2**levels + 2**qs, True)
        )
        counts.add(T, T, total - small)
    elif strategy == "sklansky":
        _sklansky_counts(counts, n, 1, levels - 1)
    elif strategy == "brent-kung":
        for k in range(qs):
            s = 1 << k
            counts.add(s, s, sympy.floor(n / (2 * s)))
            total = sympy.Max(0, sympy.floor((n - s) / (2 * s)))
            m = 1
            while 2 * s * m < T:
                count = _at_least(n, s + 2 * s * m)
                counts.add(2 * s * m, s, count)
                total -= count
                m += 1
            counts.add(T, s, total)
        high = _shift(n, qs)
        up = high - bit_count(high)
        down = sympy.Piecewise(
            (0, levels <= qs),
            (high - sympy.floor(n / 2**levels) - (levels - qs), True),
        )
        counts.add(T, T, up + down)
    elif strategy == "ladner-fischer":
        counts.add(1, 1, sympy.floor(n / 2))
        fixups = sympy.floor((n - 1) / 2)
        for i in range(2, T, 2):
            count = _at_least(n, i + 1)
            counts.add(i, 1, count)
            fixups -= count
        counts.add(T, 1, fixups)
        _sklansky_counts(counts, sympy.floor(n / 2), 2, levels - 1)
    else:
        raise CompileError(f"unknown prefix strategy {strategy!r}")
    return counts


def _by_length(st: _Structure, values: Callable[[_Signature], int], n, kind: str):
    """Return the per-class value at length ``n`` (``kind="at"``) or its sum over
    lengths ``1 .. n`` (``kind="sum"``)."""
    T = st.T
    if kind == "at":
        pieces = [
            (values(st.cls(length)), sympy.Eq(n, length)) for length in range(1, T)
        ]
        pieces.append((values(st.star), sympy.true))
        return _piecewise(*pieces)
    total = sympy.Integer(0)
    for length in range(1, T):
        total += values(st.cls(length)) * _at_least(n, length)
    return total + values(st.star) * sympy.Max(0, n - T + 1)


def _network_size(st: _Structure, strategy: str, outputs: str) -> sympy.Expr:
    n = N_SYMBOL
    counts = _combine_counts(st, strategy)
    size = st.step_gates * n
    for (left, right), count in counts.table.items():
        gates = st.gadget(st.cls(left), st.cls(right)).gates
        size += gates * count
    applies = "sum" if outputs == "all" else "at"
    size += _by_length(st, lambda sig: st.output(sig).apply_gates, n, applies)
    size += _by_length(st, lambda sig: st.output(sig).readout_gates, n, "at")
    return size


# ---------------------------------------------------------------------------
# Network depths
# ---------------------------------------------------------------------------


def _serial_depth(st: _Structure, kind: str, final: bool, prefix: bool) -> sympy.Expr:
    leaf = st.leaf
    one = st.cls(1)

    def matrix_at(i: int) -> np.ndarray:
        gadget = st.gadget(st.cls(i + 1), one)
        matrix = gadget.left[kind].copy()
        # The right operand is always a step map: a fixed term, moved into the
        # constant column so that the recurrence is linear.
        matrix[:, -1] = np.maximum(
            matrix[:, -1], _mv(gadget.right[kind], leaf.depth[kind])
        )
        return matrix

    seq = _eventual(leaf.depth[kind], matrix_at, st.T - 1, "serial chain")
    out = _output(st, kind, final)
    values = [leaf]
    for _ in range(st.T - 1):
        values.append(st.combine_values(values[-1], leaf))
    return _sequence_formula(
        lambda x: out.small(values[x - 1]),
        _shifted(seq, st.T - 1),
        out.star_row,
        st.T,
        N_SYMBOL,
        prefix,
    )


def _odd_output(st: _Structure, kind: str, base: _Output, final: bool) -> _Output:
    """Output of ``V ∘ leaf`` (a Ladner-Fischer fix-up) read through ``base``."""
    gadget = st.gadget(st.star, st.cls(1))
    leaf = st.leaf

    def small(value: _Value) -> int:
        return st.out_depth(st.combine_values(value, leaf), kind, final)

    extra = _dot(_vm(base.star_row, gadget.right[kind]), leaf.depth[kind])
    return _Output(_vm(base.star_row, gadget.left[kind]), extra, small)


def _with_readout(st: _Structure, states: sympy.Expr, final: sympy.Expr) -> sympy.Expr:
    """Depth with every prefix state as output: the states, and the readout if any.

    Without a readout the final state is one of the states already.
    """
    return _max(states, final) if st.has_readout else states


def _flat_depth(st: _Structure, strategy: str, outputs: str, kind: str):
    """Return the depth if no step map and no combine has a weighted gate, else None.

    Then every map entry has depth 0 (by induction over the combines, all of
    which :func:`_combine_counts` lists), so the depth is the deepest path of
    the apply and readout gadget of the final class. This is the nonlinear depth
    of every linear family: only the readout's threshold gate counts.
    """
    if (st.leaf.depth[kind][:-1] != 0).any():
        return None
    for left, right in _combine_counts(st, strategy).table:
        gadget = st.gadget(st.cls(left), st.cls(right))
        for matrix in (gadget.left[kind], gadget.right[kind]):
            if ((matrix != NEG) & (matrix != 0)).any():
                return None
    n = N_SYMBOL

    def deepest(sig: _Signature, final: bool) -> int:
        gadget = st.output(sig)
        return int((gadget.final_row if final else gadget.apply_row)[kind].max())

    final = _by_length(st, lambda sig: deepest(sig, True), n, "at")
    if outputs == "final":
        return final
    running = 0
    pieces = []
    for length in range(1, st.T):
        running = max(running, deepest(st.cls(length), False))
        pieces.append((running, sympy.Eq(n, length)))
    pieces.append((max(running, deepest(st.star, False)), sympy.true))
    return _max(_piecewise(*pieces), final)


def _network_depth(
    st: _Structure, strategy: str, outputs: str, kind: str
) -> sympy.Expr:
    n = N_SYMBOL
    what = f"{st.model.name} {strategy} with every prefix state as output"
    flat = _flat_depth(st, strategy, outputs, kind)
    if flat is not None:
        return flat
    if strategy == "serial":
        final = _serial_depth(st, kind, True, False)
        if outputs == "final":
            return final
        return _with_readout(st, _serial_depth(st, kind, False, True), final)
    blocks = {weight: _blocks(st, weight) for weight in _WEIGHTS}
    read_final = _output(st, kind, True)
    read_state = _output(st, kind, False)
    if strategy in ("tree", "kogge-stone", "sklansky", "brent-kung"):
        if strategy == "brent-kung":
            chain, last = _BrentKung(st, blocks), n
        else:
            side = "right" if strategy == "sklansky" else "left"
            chain, last = _BitChain(st, blocks, side, 0), n - 1
        final = chain.final(last, kind, read_final)
        if outputs == "final":
            return final
        return _with_readout(st, chain.prefix(last, kind, read_state, what), final)
    if strategy == "ladner-fischer":
        # Odd slot 2t + 1 contains Sklansky over the pairs 0..t; even slot 2t + 2 adds
        # one step map on the right (the fix-up).
        chain = _BitChain(st, blocks, "right", 1)
        odd_final = _odd_output(st, kind, read_final, True)
        final = _piecewise(
            (read_final.small(st.leaf), sympy.Eq(n, 1)),
            (
                chain.final(sympy.floor(n / 2) - 1, kind, read_final),
                sympy.Eq(sympy.Mod(n, 2), 0),
            ),
            (chain.final(sympy.floor((n - 3) / 2), kind, odd_final), sympy.true),
        )
        if outputs == "final":
            return final
        odd_state = _odd_output(st, kind, read_state, False)
        even = chain.prefix(sympy.floor(n / 2) - 1, kind, read_state, what)
        odd = chain.prefix(sympy.floor((n - 3) / 2), kind, odd_state, what)
        states = _max(
            sympy.Integer(read_state.small(st.leaf)),
            _piecewise((even, n >= 2), (0, True)),
            _piecewise((odd, n >= 3), (0, True)),
        )
        return _with_readout(st, states, final)
    raise CompileError(f"unknown prefix strategy {strategy!r}")


# ---------------------------------------------------------------------------
# Chain (one step after another)
# ---------------------------------------------------------------------------


@dataclass
class _Step:
    """One step of a chain on a state signature: gates, next signature, paths.

    ``matrix[kind]`` is ``(D + 1, D + 1)``: state coordinates, then the constant
    source (constants and per-position inputs, depth 0). Constant coordinates have
    depth 0 and are reached only through the constant column.
    """

    input: _Signature
    gates: int
    result: _Signature
    matrix: dict[str, np.ndarray]
    all_gates: bool


class _ChainAnalysis:
    """Steps of :func:`circuitlab.compile.chain.unroll_chain` as signatures.

    The first step is built on ``h0``. When every output of a template step,
    built on placeholder inputs, is a gate, the later steps are copies of it.
    Otherwise each step is built on the previous state, so that constants fold,
    and the state signature is followed until it repeats.
    """

    def __init__(self, st: _Structure, limit: int = 64):
        self.st = st
        model = st.model
        self.dim = model.state_dim
        scratch = Circuit(fold=st.fold, capacity=256)
        model.add_inputs(scratch, 1)
        h0 = np.asarray(model.initial_state(scratch))
        start, _ = _signature(scratch, {"h": h0[None, :]}, "state")
        self._readouts: dict = {}
        self.steps = [self.step(start)]
        template = self.step(
            _Signature("state", (("h", (self.dim,), (None,) * self.dim),))
        )
        if template.all_gates:
            self.steps.append(template)
        else:
            while self.steps[-1].result != self.steps[-1].input:
                if len(self.steps) >= limit:
                    raise _no_formula(
                        f"{model.name} chain: the state's constant pattern does not "
                        f"repeat within {limit} steps"
                    )
                self.steps.append(self.step(self.steps[-1].result))
        self.tiled = template.all_gates

    def step(self, sig: _Signature) -> _Step:
        st = self.st
        scratch = Circuit(fold=st.fold, capacity=1024)
        parts, nodes = _realize(scratch, sig, "state")
        state = parts["h"][0]
        ext = scratch.add_input("ext", (st.ext_width,))
        before = scratch.num_gates
        new = np.asarray(st.model.step(scratch, state, ext), dtype=np.int64)
        gates = scratch.num_gates - before
        result, _ = _signature(scratch, {"h": new[None, :]}, "state")
        found = _longest_paths(scratch, nodes, new)
        op = scratch.op[new]
        return _Step(
            sig,
            gates,
            result,
            {kind: self._expand(sig, found[kind]) for kind in _WEIGHTS},
            bool(((op != Op.INPUT) & (op != Op.CONST)).all()),
        )

    def _expand(self, sig: _Signature, paths: np.ndarray) -> np.ndarray:
        """Spread path columns of the gate coordinates of ``sig`` over all ``D``."""
        dim = self.dim
        entries = sig.parts[0][2]
        gate_coords = [d for d, entry in enumerate(entries) if entry is None]
        matrix = np.full((dim + 1, dim + 1), NEG, dtype=np.int64)
        matrix[: paths.shape[0], gate_coords] = paths[:, : len(gate_coords)]
        matrix[: paths.shape[0], dim] = paths[:, -1]
        matrix[dim, dim] = 0
        return matrix

    def at(self, t: int) -> _Step:
        """Return step ``t >= 1``."""
        return self.steps[min(t, len(self.steps)) - 1]

    def readout(self, sig: _Signature) -> tuple[int, dict[str, np.ndarray]]:
        """Return the readout gates and, per kind, the output row over the state."""
        if sig in self._readouts:
            return self._readouts[sig]
        st = self.st
        dim = self.dim
        rows = {kind: np.zeros(dim + 1, dtype=np.int64) for kind in _WEIGHTS}
        gates = 0
        if st.has_readout:
            scratch = Circuit(fold=st.fold, capacity=256)
            parts, nodes = _realize(scratch, sig, "state")
            before = scratch.num_gates
            st.model.add_readout(scratch, parts["h"][0])
            gates = scratch.num_gates - before
            outs = np.concatenate(
                [scratch.outputs["readout"].ravel(), scratch.outputs["accept"].ravel()]
            )
            found = _longest_paths(scratch, nodes, outs)
            for kind in _WEIGHTS:
                expanded = self._expand(sig, found[kind])[: len(outs)].max(axis=0)
                rows[kind] = np.maximum(rows[kind], expanded)
        self._readouts[sig] = (gates, rows)
        return self._readouts[sig]


def _chain_formulas(st: _Structure, outputs: str) -> dict[str, sympy.Expr]:
    n = N_SYMBOL
    chain = _ChainAnalysis(st)
    fixed = len(chain.steps)
    # Sizes: explicit sums while the steps still change, then a constant step.
    last = chain.steps[-1]
    readout_last = chain.readout(last.result)[0]
    explicit = []
    total = 0
    for t in range(1, fixed):
        total += chain.at(t).gates
        explicit.append(total + chain.readout(chain.at(t).result)[0])
    tail = total + last.gates * (n - fixed + 1) + readout_last
    while explicit and tail.subs(n, len(explicit)) == explicit[-1]:
        explicit.pop()
    pieces = [
        (sympy.Integer(v), sympy.Eq(n, t)) for t, v in enumerate(explicit, start=1)
    ]
    size = sympy.Piecewise(*pieces, (tail, sympy.true)) if pieces else tail
    result = {"size": size}
    for kind in _WEIGHTS:
        result[kind] = _chain_depth(st, chain, kind, outputs)
    return result


def _chain_depth(st: _Structure, chain: _ChainAnalysis, kind: str, outputs: str):
    """Depth of the chain: the state after ``t`` steps is ``M_t ⊗ ... ⊗ M_1 ⊗ 0``."""
    n = N_SYMBOL
    fixed = len(chain.steps)
    seq = _eventual(
        np.zeros(chain.dim + 1, dtype=np.int64),
        lambda i: chain.at(i + 1).matrix[kind],
        fixed - 1,
        f"{st.model.name} chain",
    )
    final_row = chain.readout(chain.steps[-1].result)[1][kind]
    state_row = np.zeros(chain.dim + 1, dtype=np.int64)

    def final_value(t: int) -> int:
        return _dot(chain.readout(chain.at(t).result)[1][kind], seq.at(t))

    def state_value(t: int) -> int:
        return _dot(state_row, seq.at(t))

    tail = _shifted(seq, fixed)
    final = _sequence_formula(final_value, tail, final_row, fixed, n, False)
    if outputs == "final":
        return final
    states = _sequence_formula(state_value, tail, state_row, fixed, n, True)
    return _with_readout(st, states, final)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _check_request(model, strategy: str, outputs: str, pd_combine: str) -> None:
    if strategy not in STRATEGIES:
        raise CompileError(
            f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}"
        )
    if outputs not in ("final", "all"):
        raise CompileError(f"outputs must be 'final' or 'all', got {outputs!r}")
    if pd_combine not in PD_COMBINES:
        raise CompileError(
            f"unknown PD combine {pd_combine!r}; use one of {', '.join(PD_COMBINES)}"
        )
    if getattr(model, "is_multilayer", False):
        raise _no_formula(f"the multilayer model {model.name}")
    if strategy == "tree" and outputs == "all":
        raise CompileError(
            "strategy tree computes only the final state; use --outputs final, or a "
            "prefix network (serial, sklansky, kogge-stone, brent-kung, ladner-fischer) "
            "or chain for every prefix state"
        )
    if not model.is_linear and strategy != "chain":
        raise CompileError(
            f"strategy {strategy} needs a linear RNN, but {model.name} is nonlinear; "
            "use --strategy chain"
        )


def family_formulas(
    model,
    strategy: str,
    *,
    outputs: str = "final",
    fold: bool = True,
    pd_combine: str = "structured",
) -> dict[str, sympy.Expr]:
    """Return exact formulas in ``n`` for the circuits of ``compile_model``.

    Parameters
    ----------
    model : RecurrentModel
        A spec model (:func:`~circuitlab.models.build_model`) or a free model.
    strategy : str
        One of :data:`circuitlab.compile.STRATEGIES`.
    outputs, fold, pd_combine
        As for :func:`circuitlab.compile.compile_model`.

    Returns
    -------
    dict
        ``"depth"``, ``"nonlinear_depth"`` and ``"size"``: sympy expressions in
        :data:`~circuitlab.compile.schedules.N_SYMBOL`, valid for every ``n >= 1``.
        Evaluate them with :func:`evaluate_exact` or
        :func:`circuitlab.compile.schedules.evaluate_formula`.

    Raises
    ------
    CompileError
        For an invalid request: an unknown strategy, ``tree`` with every prefix
        state, or a nonlinear model with a combine schedule. Also for families
        without a derivation: multilayer models, constant patterns that do not
        settle, and prefix-state depths whose maximum cannot be placed.
    """
    _check_request(model, strategy, outputs, pd_combine)
    st = _Structure(model, fold, pd_combine)
    if strategy == "chain":
        return _chain_formulas(st, outputs)
    st.find_classes()
    result = {kind: _network_depth(st, strategy, outputs, kind) for kind in _WEIGHTS}
    result["size"] = _network_size(st, strategy, outputs)
    return {key: result[key] for key in QUANTITIES}


@dataclass(frozen=True)
class Mismatch:
    """One ``n`` at which a formula and the built circuit disagree."""

    n: int
    quantity: str
    formula_value: int
    measured_value: int


def _measure(circuit: Circuit) -> dict[str, int]:
    outputs = circuit.output_ids()
    nonlinear = int(circuit.nonlinear_depth[outputs].max()) if outputs.size else 0
    return {
        "size": int(circuit.num_gates),
        "depth": int(circuit.max_depth()),
        "nonlinear_depth": nonlinear,
    }


def verify_family_formulas(
    model,
    strategy: str,
    max_n: int,
    *,
    outputs: str = "final",
    fold: bool = True,
    pd_combine: str = "structured",
    formulas: dict[str, sympy.Expr] | None = None,
    n_values: Iterable[int] | None = None,
) -> list[Mismatch]:
    """Compare formulas with circuits built by ``compile_model`` for every ``n <= max_n``.

    Parameters
    ----------
    model, strategy, outputs, fold, pd_combine
        As for :func:`family_formulas`.
    max_n : int
        Check every ``n`` in ``1 .. max_n``.
    formulas : dict, optional
        Formulas to check in place of :func:`family_formulas` (for example a
        deliberately wrong one in a test); keys among :data:`QUANTITIES`.
    n_values : iterable of int, optional
        Check these ``n`` instead of ``1 .. max_n``.

    Returns
    -------
    list of Mismatch
        Empty when every formula equals the measured size and depths.
    """
    from circuitlab.compile import compile_model

    if isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 1:
        raise CompileError(f"invalid max_n={max_n!r}; it must be an integer >= 1")
    if formulas is None:
        formulas = family_formulas(
            model, strategy, outputs=outputs, fold=fold, pd_combine=pd_combine
        )
    unknown = sorted(set(formulas) - set(QUANTITIES))
    if unknown:
        raise CompileError(
            f"unknown quantities {unknown}; valid quantities: {', '.join(QUANTITIES)}"
        )
    values = list(range(1, max_n + 1)) if n_values is None else sorted(set(n_values))
    mismatches = []
    for n in values:
        circuit = compile_model(
            model,
            n,
            strategy,
            outputs=outputs,
            fold=fold,
            pd_combine=pd_combine,
            max_bytes=None,
        )
        measured = _measure(circuit)
        for quantity in QUANTITIES:
            if quantity not in formulas:
                continue
            expected = evaluate_exact(formulas[quantity], n)
            if expected != measured[quantity]:
                mismatches.append(Mismatch(n, quantity, expected, measured[quantity]))
    if mismatches:
        logger.warning(
            "%d formula mismatches for %s, strategy %s",
            len(mismatches),
            model.name,
            strategy,
        )
    return mismatches
