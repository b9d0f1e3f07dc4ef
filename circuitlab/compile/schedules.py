"""Prefix-network schedules as index data, with exact size, depth and fan-out formulas.

A schedule combines ``n`` values ``x_0, ..., x_{n-1}`` with an associative operator
``∘`` in the *slot model*: slot ``i`` starts with ``x_i``, and a schedule is a
sequence of levels.  A level is an ``int32`` array of shape ``(k, 2)`` whose rows
``(i, j)`` with ``j < i`` mean ``v[i] = v[j] ∘ v[i]``, the left operand being the
earlier segment.  Every read in a level sees the values from before that level, and
a level writes each slot at most once.  After the last level an all-prefix schedule
leaves ``v[i] = x_0 ∘ ... ∘ x_i`` in every slot, and the ``"tree"`` schedule
leaves ``x_0 ∘ ... ∘ x_{n-1}`` in slot ``n - 1`` (other slots are partial results).

The constructions, their handling of ``n`` that is not a power of two, the formulas
and their derivations are described in ``docs/strategies.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import sympy

from circuitlab.errors import CompileError, EvaluationError

logger = logging.getLogger(__name__)

STRATEGY_NAMES = (
    "serial",
    "sklansky",
    "kogge-stone",
    "brent-kung",
    "ladner-fischer",
    "tree",
)
ALL_PREFIX = frozenset(name for name in STRATEGY_NAMES if name != "tree")

N_SYMBOL = sympy.Symbol("n", integer=True, positive=True)
"""The symbol ``n`` (number of slots) in every formula of this module."""

_K = sympy.Symbol("k", integer=True, nonnegative=True)


# ---------------------------------------------------------------------------
# Exact integer functions for the formulas
# ---------------------------------------------------------------------------


# Lower-case class names, like sympy.floor, because they print inside formulas.
class ceil_log2(sympy.Function):
    """Exact ``ceil(log2(x))`` for an integer ``x >= 1``.

    The value is the least ``e`` with ``2**e >= x``.  An integer argument
    evaluates with integer arithmetic, ``(x - 1).bit_length()``, so no
    floating-point logarithm is taken.  A symbolic argument, or an integer
    below 1, stays unevaluated.
    """

    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Integer | None:
        if x.is_Integer:
            if x < 1:
                return None  # Undefined: stays unevaluated, so evaluate_formula fails.
            return sympy.Integer(int(x - 1).bit_length())
        return None


class floor_log2(sympy.Function):
    """Exact ``floor(log2(x))`` for an integer ``x >= 1``: ``x.bit_length() - 1``.

    A symbolic argument, or an integer below 1, stays unevaluated.
    """

    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Integer | None:
        if x.is_Integer:
            if x < 1:
                return None  # Undefined: stays unevaluated, so evaluate_formula fails.
            return sympy.Integer(int(x).bit_length() - 1)
        return None


class bit_count(sympy.Function):
    """Number of one bits of an integer ``x >= 0`` (binary digit sum, popcount).

    By Legendre's formula ``bit_count(x) = x - Sum(floor(x / 2**m), (m, 1, oo))``.
    A symbolic argument, or a negative integer, stays unevaluated.
    """

    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Integer | None:
        if x.is_Integer:
            if x < 0:
                return None  # Undefined: stays unevaluated, so evaluate_formula fails.
            return sympy.Integer(int(x).bit_count())
        return None


def _int_ceil_log2(x: int) -> int:
    return (x - 1).bit_length()


# ---------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Schedule:
    """Prefix-network schedule over ``n`` slots.

    Attributes
    ----------
    name : str
        Strategy name, one of :data:`STRATEGY_NAMES`.
    n : int
        Number of slots (inputs).
    levels : tuple of numpy.ndarray
        One read-only ``int32`` array of shape ``(k, 2)`` per level, ``k >= 1``,
        with rows ``(i, j)``, ``j < i``, meaning ``v[i] = v[j] ∘ v[i]``.
        Rows in a level are sorted by ``i``.
    all_prefixes : bool
        True if every slot ends with its prefix, False if only slot ``n - 1``
        ends with the full product.

    Notes
    -----
    Equality is identity (``eq=False``) because the levels are arrays.
    """

    name: str
    n: int
    levels: tuple[np.ndarray, ...]
    all_prefixes: bool

    @property
    def size(self) -> int:
        """Number of combines."""
        return int(sum(level.shape[0] for level in self.levels))

    def depth(self) -> int:
        """Compute the longest path of the combine DAG, counted in combines.

        Inputs have depth 0 and a combine has depth ``1 + max`` of its operands'
        depths.  The loop makes one vectorized update per level.  A slot's depth
        only grows, so the maximum over the final slot depths is the maximum
        over all combines.
        """
        slot_depth = np.zeros(self.n, dtype=np.int64)
        for level in self.levels:
            targets = level[:, 0]
            sources = level[:, 1]
            slot_depth[targets] = (
                np.maximum(slot_depth[targets], slot_depth[sources]) + 1
            )
        return int(slot_depth.max())

    def max_fanout(self) -> int:
        """Compute the maximum number of combines that read one value.

        A value is an input ``x_i`` or the output of one combine.  A combine
        that uses a value as its left or its right operand counts once.  Reads
        by the caller after the last level (the prefix outputs) do not count.
        Returns 0 when there is no combine.
        """
        if self.size == 0:
            return 0
        read_counts = np.zeros(self.n + self.size, dtype=np.int64)
        slot_node = np.arange(self.n, dtype=np.int64)
        next_node = self.n
        for level in self.levels:
            targets = level[:, 0]
            sources = level[:, 1]
            np.add.at(read_counts, slot_node[sources], 1)
            np.add.at(read_counts, slot_node[targets], 1)
            count = level.shape[0]
            slot_node[targets] = np.arange(next_node, next_node + count)
            next_node += count
        return int(read_counts.max())

    def validate(self) -> None:
        """Check the slot-model invariants of every level.

        Raises
        ------
        CompileError
            If a level is not a non-empty ``(k, 2)`` integer array, has a row
            with ``not 0 <= j < i < n``, or writes one slot twice.
        """
        for index, level in enumerate(self.levels):
            where = f"schedule {self.name!r} n={self.n} level {index}"
            if not isinstance(level, np.ndarray) or level.ndim != 2:
                raise CompileError(
                    f"{where}: expected a 2-D numpy array of rows (i, j)"
                )
            if level.shape[1] != 2 or level.shape[0] == 0:
                raise CompileError(
                    f"{where}: invalid shape {level.shape}; expected (k, 2) with k >= 1"
                )
            if level.dtype not in (np.int32, np.int64):
                raise CompileError(
                    f"{where}: invalid dtype {level.dtype}; expected int32 or int64"
                )
            targets = level[:, 0]
            sources = level[:, 1]
            bad = (sources < 0) | (sources >= targets) | (targets >= self.n)
            if bad.any():
                row = level[int(np.flatnonzero(bad)[0])].tolist()
                raise CompileError(
                    f"{where}: invalid row {row}; rows need 0 <= j < i < n"
                )
            written, counts = np.unique(targets, return_counts=True)
            if (counts > 1).any():
                slot = int(written[counts > 1][0])
                raise CompileError(
                    f"{where}: slot {slot} is written twice; a level may write "
                    "each slot at most once"
                )


def apply_schedule(
    sched: Schedule, values: Sequence[Any], combine: Callable[[Any, Any], Any]
) -> list[Any]:
    """Run a schedule in pure Python, as a reference executor.

    Parameters
    ----------
    sched : Schedule
        The schedule to run.
    values : sequence
        The ``n`` inputs ``x_0, ..., x_{n-1}``.
    combine : callable
        ``combine(earlier, later)``.  It must be associative and need not be
        commutative.

    Returns
    -------
    list
        The final slot values.  For an all-prefix schedule, entry ``i`` is
        ``x_0 ∘ ... ∘ x_i``; for ``"tree"`` only the last entry is the full
        product.

    Raises
    ------
    EvaluationError
        If ``len(values) != sched.n``.
    """
    if len(values) != sched.n:
        raise EvaluationError(
            f"schedule {sched.name!r} has n={sched.n} slots but got {len(values)} "
            "values; pass exactly n values"
        )
    slots = list(values)
    for level in sched.levels:
        # Read every operand before writing, because all reads in a level see
        # the values from before that level.
        updates = [(i, combine(slots[j], slots[i])) for i, j in level.tolist()]
        for i, value in updates:
            slots[i] = value
    return slots


# ---------------------------------------------------------------------------
# Constructions
# ---------------------------------------------------------------------------


def _pairs(targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    # int32 halves the memory a schedule holds during compilation; slot indices
    # stay below n, and n is at most 2**31 - 1 here.
    return np.column_stack((targets, sources)).astype(np.int32, copy=False)


def _serial_levels(n: int) -> list[np.ndarray]:
    rows = _pairs(np.arange(1, n, dtype=np.int64), np.arange(0, n - 1, dtype=np.int64))
    return list(np.split(rows, n - 1)) if n > 1 else []


def _sklansky_levels(n: int) -> list[np.ndarray]:
    return list(_iter_sklansky(n))


def _iter_sklansky(n: int):
    # Level k: every slot i with bit k set reads the last slot of the preceding
    # aligned block of 2**k slots, which by then contains that block's prefix.
    if n < 2:
        return
    index = np.arange(n, dtype=np.int64)
    for k in range(_int_ceil_log2(n)):
        targets = index[((index >> k) & 1) == 1]
        sources = ((targets >> k) << k) - 1
        yield _pairs(targets, sources)


def _kogge_stone_levels(n: int) -> list[np.ndarray]:
    return list(_iter_kogge_stone(n))


def _iter_kogge_stone(n: int):
    for k in range(_int_ceil_log2(n)):
        stride = 1 << k
        targets = np.arange(stride, n, dtype=np.int64)
        yield _pairs(targets, targets - stride)


def combine_count(name: str, n: int) -> int:
    """Return the number of combines of ``schedule(name, n)`` without building it.

    Sklansky and Kogge-Stone use integer closed forms (the same counts as
    :func:`size_formula`); the other networks are built and counted.
    """
    name = _check_name(name)
    n = _check_n(n, f"prefix strategy {name!r}")
    levels = _int_ceil_log2(n)
    if name == "kogge-stone":
        return sum(n - (1 << k) for k in range(levels))
    if name == "sklansky":
        # Slots i < n with bit k set, summed over the levels k.
        return sum(
            (1 << k) * (n >> (k + 1)) + max(0, n % (1 << (k + 1)) - (1 << k))
            for k in range(levels)
        )
    return schedule(name, n).size


def iter_levels(name: str, n: int):
    """Yield the levels of ``schedule(name, n)`` one at a time.

    Sklansky and Kogge-Stone levels are generated lazily, so a compiler that
    applies one level at a time never holds the whole schedule; the other
    networks are built in full first.
    """
    name = _check_name(name)
    n = _check_n(n, f"prefix strategy {name!r}")
    if name == "sklansky":
        yield from _iter_sklansky(n)
    elif name == "kogge-stone":
        yield from _iter_kogge_stone(n)
    else:
        yield from schedule(name, n).levels


def _brent_kung_levels(n: int) -> list[np.ndarray]:
    # Up-sweep (reduction tree over aligned blocks), then down-sweep.  The
    # levels are regrouped by depth afterwards, which merges the last
    # up-sweep level with the first down-sweep level and moves early fix-ups up.
    levels_count = _int_ceil_log2(n)
    levels = []
    for k in range(levels_count):
        stride = 1 << k
        targets = np.arange(2 * stride - 1, n, 2 * stride, dtype=np.int64)
        levels.append(_pairs(targets, targets - stride))
    for k in range(levels_count - 2, -1, -1):
        stride = 1 << k
        targets = np.arange(3 * stride - 1, n, 2 * stride, dtype=np.int64)
        levels.append(_pairs(targets, targets - stride))
    return levels


def _ladner_fischer_levels(n: int) -> list[np.ndarray]:
    # One Brent-Kung level pairs (2t, 2t+1), Sklansky runs on the odd slots,
    # and one Brent-Kung level fixes up the even slots from their odd neighbour.
    # NOTE: this is the Sklansky-on-pairs variant (depth ceil_log2(n - 2) + 1),
    # not the family P_0(n) of Ladner and Fischer (1980).
    odd = np.arange(1, n, 2, dtype=np.int64)
    levels = [_pairs(odd, odd - 1)]
    for level in _sklansky_levels(n // 2):
        levels.append(2 * level + 1)
    even = np.arange(2, n, 2, dtype=np.int64)
    levels.append(_pairs(even, even - 1))
    return levels


def _tree_levels(n: int) -> list[np.ndarray]:
    # Right-aligned balanced reduction: at level k the slots at distance
    # 0, 2s, 4s, ... (s = 2**k) from slot n - 1 absorb the slot s to their left.
    levels = []
    for k in range(_int_ceil_log2(n)):
        stride = 1 << k
        distance = np.arange(0, n - stride, 2 * stride, dtype=np.int64)
        targets = (n - 1 - distance)[::-1]
        levels.append(_pairs(targets, targets - stride))
    return levels


def _group_by_depth(n: int, levels: list[np.ndarray]) -> list[np.ndarray]:
    """Place each combine in the level equal to its depth in the combine DAG.

    The DAG is unchanged: the caller must only pass schedules in which no
    combine would then overwrite a value before a combine that reads it has
    run.  Brent-Kung and the Ladner-Fischer variant here satisfy this because
    every value a combine reads has a smaller depth than the next write to
    that slot (``docs/strategies.md`` gives the argument).
    """
    slot_depth = np.zeros(n, dtype=np.int64)
    all_rows = []
    all_depths = []
    for level in levels:
        if level.shape[0] == 0:
            continue
        targets = level[:, 0]
        sources = level[:, 1]
        depth = np.maximum(slot_depth[targets], slot_depth[sources]) + 1
        slot_depth[targets] = depth
        all_rows.append(level)
        all_depths.append(depth)
    if not all_rows:
        return []
    rows = np.concatenate(all_rows)
    depths = np.concatenate(all_depths)
    order = np.lexsort((rows[:, 0], depths))
    rows = rows[order]
    depths = depths[order]
    cuts = np.flatnonzero(np.diff(depths)) + 1
    return list(np.split(rows, cuts))


_BUILDERS: dict[str, Callable[[int], list[np.ndarray]]] = {
    "serial": _serial_levels,
    "sklansky": _sklansky_levels,
    "kogge-stone": _kogge_stone_levels,
    "brent-kung": lambda n: _group_by_depth(n, _brent_kung_levels(n)),
    "ladner-fischer": lambda n: _group_by_depth(n, _ladner_fischer_levels(n)),
    "tree": _tree_levels,
}


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name not in STRATEGY_NAMES:
        raise CompileError(
            f"unknown prefix strategy {name!r}; valid strategies: "
            + ", ".join(STRATEGY_NAMES)
        )
    return name


def _check_n(n: object, context: str) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral) or int(n) < 1:
        raise CompileError(f"invalid n={n!r} for {context}; n must be an integer >= 1")
    return int(n)


def schedule(name: str, n: int) -> Schedule:
    """Build the schedule of a prefix strategy for ``n`` slots.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGY_NAMES`.
    n : int
        Number of slots, ``n >= 1``.

    Returns
    -------
    Schedule
        Levels are built with vectorized numpy, ``O(size)`` work in total.

    Raises
    ------
    CompileError
        If ``name`` is unknown or ``n`` is not an integer ``>= 1``.
    """
    name = _check_name(name)
    n = _check_n(n, f"prefix strategy {name!r}")
    if n >= 2**31:
        raise CompileError(
            f"invalid n={n} for prefix strategy {name!r}; n must be below 2**31"
        )
    levels = [level for level in _BUILDERS[name](n) if level.shape[0] > 0]
    for level in levels:
        level.setflags(write=False)
    sched = Schedule(
        name=name, n=n, levels=tuple(levels), all_prefixes=name in ALL_PREFIX
    )
    logger.debug(
        "built %s schedule: n=%d, %d combines in %d levels",
        name,
        n,
        sched.size,
        len(levels),
    )
    return sched


# ---------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------


def _prefix_bit_count_sum(m: sympy.Expr, upper: sympy.Expr) -> sympy.Expr:
    """Return ``Sum(bit_count(i), (i, 0, m - 1))`` as a sum over bit positions.

    Bit ``k`` is set in ``2**k * floor(m / 2**(k+1)) + max(0, m mod 2**(k+1) - 2**k)``
    of the integers ``0 .. m-1``.  ``upper`` must be at least ``ceil_log2(m) - 1``;
    terms beyond that are zero.
    """
    k = _K
    block = 2 ** (k + 1)
    term = sympy.floor(m / block) * 2**k + sympy.Max(0, sympy.Mod(m, block) - 2**k)
    return sympy.Sum(term, (k, 0, upper))


def _formulas() -> dict[str, dict[str, sympy.Expr]]:
    n = N_SYMBOL
    ceil_n = ceil_log2(n)
    floor_n = floor_log2(n)
    single_reader_fanout = sympy.Min(1, n - 1)
    return {
        "serial": {
            "size": n - 1,
            "depth": n - 1,
            "max_fanout": single_reader_fanout,
        },
        "tree": {
            "size": n - 1,
            "depth": ceil_n,
            "max_fanout": single_reader_fanout,
        },
        "sklansky": {
            "size": _prefix_bit_count_sum(n, ceil_n - 1),
            "depth": ceil_n,
            "max_fanout": sympy.Piecewise(
                (0, n < 2), (sympy.Max(n - 2 ** (ceil_n - 1), 2 ** (ceil_n - 2)), True)
            ),
        },
        "kogge-stone": {
            "size": n * ceil_n - 2**ceil_n + 1,
            "depth": ceil_n,
            "max_fanout": ceil_n,
        },
        "brent-kung": {
            "size": 2 * n
            - bit_count(n)
            - sympy.floor(n / 2 ** (ceil_n - 1))
            - ceil_n
            + 1,
            "depth": sympy.Max(
                floor_n + floor_log2(n - 2**floor_n + 1), 2 * floor_n - 2
            ),
            "max_fanout": floor_n,
        },
        "ladner-fischer": {
            "size": n - 1 + _prefix_bit_count_sum(sympy.floor(n / 2), ceil_n - 1),
            "depth": sympy.Piecewise((n - 1, n <= 3), (1 + ceil_log2(n - 2), True)),
            "max_fanout": _ladner_fischer_fanout(),
        },
    }


def _ladner_fischer_fanout() -> sympy.Expr:
    # Sklansky runs on m = floor(n/2) odd slots with K = ceil_log2(m) levels.
    # Its last block end (element 2**(K-1) - 1) is read by m - 2**(K-1) Sklansky
    # combines and by one fix-up.  The block end one level lower is read by
    # 2**(K-2) combines and one fix-up.  Even inputs x_{2t} with 0 < 2t < n - 1
    # are read twice, by the pair level and by their fix-up.
    n = N_SYMBOL
    m = sympy.floor(n / 2)
    # Max(1, m) keeps ceil_log2 defined for n = 1, where the first branch applies.
    levels = ceil_log2(sympy.Max(1, m))
    return sympy.Piecewise(
        (sympy.Min(1, n - 1), n <= 3),
        (sympy.Max(2, m - 2 ** (levels - 1) + 1, 2 ** (levels - 2) + 1), True),
    )


_FORMULAS = _formulas()
QUANTITIES = ("size", "depth", "max_fanout")


def size_formula(name: str) -> sympy.Expr:
    """Return the exact number of combines of strategy ``name`` as a formula in ``n``.

    Raises
    ------
    CompileError
        If ``name`` is unknown.
    """
    return _FORMULAS[_check_name(name)]["size"]


def depth_formula(name: str) -> sympy.Expr:
    """Return the exact combine-DAG depth of strategy ``name`` as a formula in ``n``.

    Raises
    ------
    CompileError
        If ``name`` is unknown.
    """
    return _FORMULAS[_check_name(name)]["depth"]


def fanout_formula(name: str) -> sympy.Expr:
    """Return the exact :meth:`Schedule.max_fanout` of strategy ``name`` in ``n``.

    Raises
    ------
    CompileError
        If ``name`` is unknown.
    """
    return _FORMULAS[_check_name(name)]["max_fanout"]


def _expand_finite_sum(term: sympy.Sum) -> sympy.Expr:
    if len(term.limits) != 1:
        raise CompileError(f"cannot expand {term}: expected one summation index")
    variable, lower, upper = term.limits[0]
    if not (lower.is_Integer and upper.is_Integer):
        raise CompileError(f"cannot expand {term}: its limits are not integers")
    body = term.function
    return sympy.Add(
        *(
            body.xreplace({variable: sympy.Integer(value)})
            for value in range(int(lower), int(upper) + 1)
        )
    )


def evaluate_formula(expr: sympy.Expr, n: int) -> int:
    """Evaluate a formula of this module exactly at an integer ``n``.

    Chooses each ``Piecewise`` branch by its condition at ``n``, substitutes
    ``n`` (every free symbol named ``"n"``), lets sympy evaluate ``floor``,
    ``Mod``, ``Max``, :class:`ceil_log2`, :class:`floor_log2` and
    :class:`bit_count` on integers, and expands each ``Sum`` term by term, so
    no floating-point arithmetic is involved.

    Raises
    ------
    CompileError
        If ``n`` is not an integer ``>= 1``, ``expr`` has another free
        symbol, or the value is not an integer.
    """
    n = _check_n(n, "evaluate_formula")
    symbols = {symbol for symbol in expr.free_symbols if symbol.name == "n"}
    others = expr.free_symbols - symbols
    if others:
        names = ", ".join(sorted(symbol.name for symbol in others))
        raise CompileError(
            f"formula {expr} has free symbols {names}; only n is allowed"
        )
    substitution = {symbol: sympy.Integer(n) for symbol in symbols}

    def select_piece(piecewise: sympy.Piecewise) -> sympy.Expr:
        # Pick the branch before substituting, so that branches that do not
        # apply at this n (such as ceil_log2(n - 2) at n = 1) are never evaluated.
        for piece, condition in piecewise.args:
            if bool(condition.xreplace(substitution)):
                return piece
        raise CompileError(f"formula {piecewise} has no branch that applies at n={n}")

    value = expr.replace(lambda node: isinstance(node, sympy.Piecewise), select_piece)
    value = value.xreplace(substitution)
    value = value.replace(lambda node: isinstance(node, sympy.Sum), _expand_finite_sum)
    if not value.is_Integer:
        raise CompileError(
            f"formula {expr} evaluated to {value} at n={n}, which is not an integer"
        )
    return int(value)


@dataclass(frozen=True)
class FormulaMismatch:
    """One disagreement between a formula and a built schedule."""

    name: str
    n: int
    quantity: str
    formula_value: int
    measured_value: int


def measure(sched: Schedule, quantity: str) -> int:
    """Return ``size``, ``depth`` or ``max_fanout`` of a built schedule.

    Raises
    ------
    CompileError
        If ``quantity`` is not one of :data:`QUANTITIES`.
    """
    if quantity == "size":
        return sched.size
    if quantity == "depth":
        return sched.depth()
    if quantity == "max_fanout":
        return sched.max_fanout()
    raise CompileError(
        f"unknown quantity {quantity!r}; valid quantities: " + ", ".join(QUANTITIES)
    )


def verify_formulas(
    name: str,
    max_n: int,
    formulas: dict[str, sympy.Expr] | None = None,
) -> list[FormulaMismatch]:
    """Compare formulas with built schedules for every ``n`` in ``1 .. max_n``.

    Parameters
    ----------
    name : str
        Strategy name.
    max_n : int
        Largest ``n`` to check.
    formulas : dict, optional
        Maps a quantity in :data:`QUANTITIES` to a formula.  The default is
        this module's size, depth and fan-out formulas of ``name``.  Pass a
        formula here to check it in place of the module's.

    Returns
    -------
    list of FormulaMismatch
        Empty when every formula matches every schedule.
    """
    name = _check_name(name)
    max_n = _check_n(max_n, "verify_formulas")
    if formulas is None:
        formulas = _FORMULAS[name]
    unknown = sorted(set(formulas) - set(QUANTITIES))
    if unknown:
        raise CompileError(
            f"unknown quantities {unknown} in formulas; valid quantities: "
            + ", ".join(QUANTITIES)
        )
    mismatches = []
    for n in range(1, max_n + 1):
        sched = schedule(name, n)
        for quantity, expr in formulas.items():
            expected = evaluate_formula(expr, n)
            measured = measure(sched, quantity)
            if expected != measured:
                mismatches.append(
                    FormulaMismatch(name, n, quantity, expected, measured)
                )
    if mismatches:
        logger.warning(
            "%d formula mismatches for %s up to n=%d", len(mismatches), name, max_n
        )
    return mismatches
