"""Tests for prefix-network schedules: correctness, formulas, fan-out and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from circuitlab.compile.schedules import (
    ALL_PREFIX,
    N_SYMBOL,
    QUANTITIES,
    STRATEGY_NAMES,
    Schedule,
    apply_schedule,
    bit_count,
    ceil_log2,
    combine_count,
    depth_formula,
    evaluate_formula,
    fanout_formula,
    floor_log2,
    schedule,
    size_formula,
    verify_formulas,
)
from circuitlab.errors import CompileError, EvaluationError

LARGE_N = (255, 256, 257, 1000, 1023, 1024, 1025, 3000, 4097)


def combine_segments(left: tuple[int, int], right: tuple[int, int]) -> tuple[int, int]:
    """Join segment (a, b) with the adjacent later segment (b + 1, c)."""
    if left[1] + 1 != right[0]:
        raise AssertionError(f"segments {left} and {right} are not adjacent")
    return (left[0], right[1])


def check_segments(name: str, n: int) -> None:
    sched = schedule(name, n)
    result = apply_schedule(sched, [(i, i) for i in range(n)], combine_segments)
    if sched.all_prefixes:
        assert result == [(0, i) for i in range(n)]
    else:
        assert result[-1] == (0, n - 1)


# ---------------------------------------------------------------------------
# Correctness
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_segments_small_n(name):
    for n in range(1, 131):
        check_segments(name, n)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("n", LARGE_N)
def test_segments_large_n(name, n):
    check_segments(name, n)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_tuple_concatenation_prefixes(name):
    for n in (1, 2, 3, 7, 16, 33, 100):
        sched = schedule(name, n)
        result = apply_schedule(sched, [(i,) for i in range(n)], lambda a, b: a + b)
        assert result[-1] == tuple(range(n))
        if sched.all_prefixes:
            assert result == [tuple(range(i + 1)) for i in range(n)]


def matrix_product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return (left @ right) % 1_000_003


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_matrix_product_prefixes(name):
    rng = np.random.default_rng(12345)
    for n in (1, 2, 5, 31, 64, 97):
        matrices = [rng.integers(0, 1_000_003, size=(2, 2)) for _ in range(n)]
        expected = []
        running = np.eye(2, dtype=np.int64)
        for matrix in matrices:
            running = matrix_product(running, matrix)
            expected.append(running)
        result = apply_schedule(schedule(name, n), matrices, matrix_product)
        assert np.array_equal(result[-1], expected[-1])
        if name in ALL_PREFIX:
            for got, want in zip(result, expected, strict=True):
                assert np.array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(STRATEGY_NAMES), n=st.integers(1, 2500))
def test_segments_and_size_property(name, n):
    check_segments(name, n)
    sched = schedule(name, n)
    assert sched.size == evaluate_formula(size_formula(name), n)
    assert sched.depth() == evaluate_formula(depth_formula(name), n)


# ---------------------------------------------------------------------------
# Structure of the levels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_levels_valid_and_read_only(name):
    for n in (*range(1, 70), *LARGE_N):
        sched = schedule(name, n)
        sched.validate()
        for level in sched.levels:
            assert level.dtype == np.int32
            assert not level.flags.writeable
            assert np.all(np.diff(level[:, 0]) > 0)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_each_combine_at_its_depth(name):
    for n in (*range(1, 300), 1000, 1025):
        sched = schedule(name, n)
        slot_depth = np.zeros(n, dtype=np.int64)
        for index, level in enumerate(sched.levels):
            depth = np.maximum(slot_depth[level[:, 0]], slot_depth[level[:, 1]]) + 1
            assert np.all(depth == index + 1), (n, index)
            slot_depth[level[:, 0]] = depth
        assert len(sched.levels) == sched.depth(), n


def test_all_prefix_flag():
    for name in STRATEGY_NAMES:
        assert schedule(name, 5).all_prefixes == (name in ALL_PREFIX)
    assert set(ALL_PREFIX) == set(STRATEGY_NAMES) - {"tree"}


def test_validate_rejects_bad_rows():
    cases = [
        [np.array([[1, 1]], dtype=np.int64)],
        [np.array([[0, 1]], dtype=np.int64)],
        [np.array([[4, 0]], dtype=np.int64)],
        [np.array([[1, -1]], dtype=np.int64)],
        [np.array([[2, 0], [2, 1]], dtype=np.int64)],
        [np.zeros((0, 2), dtype=np.int64)],
        [np.array([[1, 0]], dtype=np.float64)],
        [np.array([1, 0], dtype=np.int64)],
    ]
    for levels in cases:
        sched = Schedule(name="custom", n=4, levels=tuple(levels), all_prefixes=False)
        with pytest.raises(CompileError):
            sched.validate()


# ---------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_formulas_match_schedules_to_512(name):
    assert verify_formulas(name, 512) == []


def test_snir_bound_to_512():
    for name in sorted(ALL_PREFIX):
        for n in range(1, 513):
            sched = schedule(name, n)
            assert sched.size + sched.depth() >= 2 * n - 2, (name, n)


def test_serial_meets_snir_bound_exactly():
    for n in range(1, 100):
        sched = schedule("serial", n)
        assert sched.size + sched.depth() == max(0, 2 * n - 2)


# Values stated in docs/strategies.md: (name, n, size, depth, max fan-out).
DOCUMENTED_VALUES = [
    ("serial", 16, 15, 15, 1),
    ("serial", 1024, 1023, 1023, 1),
    ("tree", 16, 15, 4, 1),
    ("tree", 1024, 1023, 10, 1),
    ("sklansky", 16, 32, 4, 8),
    ("sklansky", 1024, 5120, 10, 512),
    ("kogge-stone", 16, 49, 4, 4),
    ("kogge-stone", 1024, 9217, 10, 10),
    ("brent-kung", 16, 26, 6, 4),
    ("brent-kung", 1024, 2036, 18, 10),
    ("ladner-fischer", 16, 27, 5, 5),
    ("ladner-fischer", 1024, 3327, 11, 257),
]


@pytest.mark.parametrize(("name", "n", "size", "depth", "fanout"), DOCUMENTED_VALUES)
def test_documented_values(name, n, size, depth, fanout):
    sched = schedule(name, n)
    assert sched.size == size
    assert sched.depth() == depth
    assert sched.max_fanout() == fanout
    assert evaluate_formula(size_formula(name), n) == size
    assert evaluate_formula(depth_formula(name), n) == depth
    assert evaluate_formula(fanout_formula(name), n) == fanout


def power_of_two_values(name: str, n: int) -> tuple[int, int, int]:
    """Return the power-of-two (size, depth, max fan-out) stated in the docs."""
    log = n.bit_length() - 1
    table = {
        "serial": (n - 1, n - 1, 1),
        "tree": (n - 1, log, 1),
        "sklansky": (n * log // 2, log, n // 2),
        "kogge-stone": (n * log - n + 1, log, log),
        "brent-kung": (2 * n - 2 - log, 2 * log - 2, log),
        "ladner-fischer": (n - 1 + n * (log - 1) // 4, log + 1, n // 4 + 1),
    }
    return table[name]


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_power_of_two_closed_forms(name):
    for log in range(3, 15):
        n = 1 << log
        sched = schedule(name, n)
        size, depth, fanout = power_of_two_values(name, n)
        assert sched.size == size, n
        assert sched.depth() == depth, n
        assert sched.max_fanout() == fanout, n


def test_small_n_by_hand():
    # Every strategy combines two slots with the single row (1, 0).
    for name in STRATEGY_NAMES:
        sched = schedule(name, 2)
        assert [level.tolist() for level in sched.levels] == [[[1, 0]]]
    brent_kung = schedule("brent-kung", 4)
    assert [level.tolist() for level in brent_kung.levels] == [
        [[1, 0], [3, 2]],
        [[2, 1], [3, 1]],
    ]
    ladner_fischer = schedule("ladner-fischer", 8)
    assert [level.tolist() for level in ladner_fischer.levels] == [
        [[1, 0], [3, 2], [5, 4], [7, 6]],
        [[2, 1], [3, 1], [7, 5]],
        [[4, 3], [5, 3], [7, 3]],
        [[6, 5]],
    ]
    tree = schedule("tree", 5)
    assert [level.tolist() for level in tree.levels] == [
        [[2, 1], [4, 3]],
        [[4, 2]],
        [[4, 0]],
    ]
    for name in STRATEGY_NAMES:
        sched = schedule(name, 1)
        assert sched.levels == ()
        assert sched.size == 0
        assert sched.depth() == 0
        assert sched.max_fanout() == 0


def test_depth_logarithmic_except_serial():
    for name in STRATEGY_NAMES:
        if name == "serial":
            continue
        for n in (*range(2, 200), *LARGE_N, 1 << 16):
            bound = 2 * math.ceil(math.log2(n))
            assert schedule(name, n).depth() <= bound, (name, n)


def test_large_schedules_build():
    sklansky = schedule("sklansky", 2**18)
    assert sklansky.size == 18 * 2**17
    assert sklansky.depth() == 18
    kogge_stone = schedule("kogge-stone", 2**16)
    assert kogge_stone.size == evaluate_formula(size_formula("kogge-stone"), 2**16)
    assert kogge_stone.depth() == 16


def test_wrong_formula_reported():
    # n * log2(n) - n + 1 is the Kogge-Stone size only when n is a power of two.
    wrong = N_SYMBOL * ceil_log2(N_SYMBOL) - N_SYMBOL + 1
    mismatches = verify_formulas("kogge-stone", 40, formulas={"size": wrong})
    reported = [mismatch.n for mismatch in mismatches]
    expected = [n for n in range(1, 41) if n & (n - 1) != 0]
    assert reported == expected
    first = mismatches[0]
    assert first.name == "kogge-stone"
    assert first.quantity == "size"
    assert first.formula_value == 4
    assert first.measured_value == 3


def test_wrong_depth_formula_reported():
    # The power-of-two depth 2 * log2(n) - 2 fails for Brent-Kung at n = 1, 2
    # (true depths 0, 1) and at n = 5, 6 (true depth 3, not 4).
    wrong = 2 * ceil_log2(N_SYMBOL) - 2
    mismatches = verify_formulas("brent-kung", 8, formulas={"depth": wrong})
    assert [mismatch.n for mismatch in mismatches] == [1, 2, 5, 6]


def test_formula_helpers_exact():
    assert ceil_log2(sympy.Integer(2**200 + 1)) == 201
    assert ceil_log2(sympy.Integer(2**200)) == 200
    assert floor_log2(sympy.Integer(2**100 - 1)) == 99
    assert bit_count(sympy.Integer(2**90 - 1)) == 90
    n = 2**61 - 1
    expected = n * 61 - 2**61 + 1
    assert evaluate_formula(size_formula("kogge-stone"), n) == expected
    assert evaluate_formula(depth_formula("tree"), 2**70 + 1) == 71


def test_formulas_are_sympy_in_n():
    for name in STRATEGY_NAMES:
        for formula in (size_formula(name), depth_formula(name), fanout_formula(name)):
            assert isinstance(formula, sympy.Expr)
            assert formula.free_symbols == {N_SYMBOL}


def test_plain_subs_agrees_for_small_n():
    for name in STRATEGY_NAMES:
        for n in range(1, 9):
            for formula in (size_formula(name), depth_formula(name)):
                assert formula.subs(N_SYMBOL, n).doit() == evaluate_formula(formula, n)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "Sklansky", "kogge_stone", "ripple", None, 3])
def test_unknown_name_rejected(name):
    with pytest.raises(CompileError, match="valid strategies: serial, sklansky"):
        schedule(name, 8)
    with pytest.raises(CompileError):
        size_formula(name)
    with pytest.raises(CompileError):
        depth_formula(name)
    with pytest.raises(CompileError):
        verify_formulas(name, 4)


@pytest.mark.parametrize("n", [0, -1, 2.0, 2.5, "3", None, True])
def test_invalid_n_rejected(n):
    with pytest.raises(CompileError, match="integer >= 1"):
        schedule("serial", n)
    with pytest.raises(CompileError, match="integer >= 1"):
        evaluate_formula(size_formula("serial"), n)


def test_numpy_integer_n_accepted():
    assert schedule("sklansky", np.int64(8)).n == 8


def test_apply_schedule_length_mismatch():
    with pytest.raises(EvaluationError, match="n=4 slots but got 3 values"):
        apply_schedule(schedule("serial", 4), [1, 2, 3], lambda a, b: a + b)


def test_evaluate_formula_rejects_other_symbols():
    other = sympy.Symbol("m")
    with pytest.raises(CompileError, match="free symbols m"):
        evaluate_formula(N_SYMBOL + other, 3)
    with pytest.raises(CompileError, match="not an integer"):
        evaluate_formula(N_SYMBOL / 2, 3)
    with pytest.raises(CompileError, match="not an integer"):
        evaluate_formula(ceil_log2(N_SYMBOL - 1), 1)


def test_verify_formulas_rejects_unknown_quantity():
    with pytest.raises(CompileError, match="valid quantities"):
        verify_formulas("serial", 3, formulas={"width": N_SYMBOL})
    assert QUANTITIES == ("size", "depth", "max_fanout")


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_combine_count_equals_schedule_size(name):
    for n in list(range(1, 130)) + [1000, 4097]:
        assert combine_count(name, n) == schedule(name, n).size, f"n={n}"
