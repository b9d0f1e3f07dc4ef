"""Tests for exact size and depth formulas: agreement with built circuits, errors, CLI."""

from __future__ import annotations

import json

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from circuitlab.analysis import formulas as formulas_module
from circuitlab.analysis.formulas import (
    QUANTITIES,
    Mismatch,
    _Scalar,
    _upper_envelope,
    evaluate_exact,
    family_formulas,
    max_over,
    verify_family_formulas,
)
from circuitlab.cli import main
from circuitlab.compile.schedules import N_SYMBOL, evaluate_formula
from circuitlab.errors import CompileError
from circuitlab.models import build_model, free_model
from circuitlab.spec import load_spec

PREFIX = ("serial", "sklansky", "kogge-stone", "brent-kung", "ladner-fischer")
MODES = [("tree", "final"), ("chain", "final"), ("chain", "all")]
MODES += [(name, outputs) for name in PREFIX for outputs in ("final", "all")]

# Free models at D = 3: DPLR rank 1 has three segment classes (ranks 1, 2 and
# dense), rank 2 has two, which covers the small-class parts of the derivation.
FREE = [
    ("diagonal", 3, 1, "structured"),
    ("pd", 3, 1, "structured"),
    ("pd", 3, 1, "monomial"),
    ("dplr", 3, 1, "structured"),
    ("dplr", 3, 2, "structured"),
    ("deltanet", 3, 1, "structured"),
    ("gated-deltanet", 3, 1, "structured"),
    ("rwkv7", 3, 1, "structured"),
    ("dense", 3, 1, "structured"),
]
LINEAR_SPECS = ("pd", "dense", "dplr", "deltanet", "gated-deltanet", "rwkv7")

MODELS: dict = {}


def model_for(name: str, dim: int | None = None, rank: int = 1):
    """Build a model once per test session (spec loading is the slow part)."""
    key = (name, dim, rank)
    if key not in MODELS:
        if dim is None:
            MODELS[key] = build_model(load_spec(name))
        else:
            MODELS[key] = free_model(name, dim, rank)
    return MODELS[key]


def assert_no_mismatches(mismatches: list[Mismatch]) -> None:
    shown = ", ".join(
        f"n={m.n} {m.quantity}: formula {m.formula_value}, circuit {m.measured_value}"
        for m in mismatches[:5]
    )
    assert not mismatches, shown


# ---------------------------------------------------------------------------
# Formulas equal the measured circuits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("strategy,outputs", MODES)
@pytest.mark.parametrize("family,dim,rank,pd_combine", FREE)
def test_free_model_formulas_match(family, dim, rank, pd_combine, strategy, outputs):
    model = model_for(family, dim, rank)
    # Every n up to 64 for the final state. With every prefix state as output the
    # suite builds n up to 32 here (time budget) and larger n in the spot checks.
    max_n = 64 if outputs == "final" else 32
    mismatches = verify_family_formulas(
        model, strategy, max_n, outputs=outputs, pd_combine=pd_combine
    )
    assert_no_mismatches(mismatches)


@pytest.mark.parametrize("strategy,outputs", MODES)
@pytest.mark.parametrize("name", LINEAR_SPECS)
def test_linear_spec_formulas_match(name, strategy, outputs):
    mismatches = verify_family_formulas(model_for(name), strategy, 20, outputs=outputs)
    assert_no_mismatches(mismatches)


@pytest.mark.parametrize("outputs", ["final", "all"])
@pytest.mark.parametrize("name", ["elman", "mlp-rnn"])
def test_nonlinear_chain_formulas_match(name, outputs):
    mismatches = verify_family_formulas(model_for(name), "chain", 64, outputs=outputs)
    assert_no_mismatches(mismatches)


@pytest.mark.parametrize(
    "name,dim,strategy,outputs",
    [
        ("pd", None, "kogge-stone", "all"),
        ("diagonal", None, "brent-kung", "final"),
        ("dplr", 3, "sklansky", "all"),
        ("elman", None, "chain", "final"),
    ],
)
def test_formulas_without_folding_match(name, dim, strategy, outputs):
    model = model_for(name, dim)
    mismatches = verify_family_formulas(
        model, strategy, 32, outputs=outputs, fold=False
    )
    assert_no_mismatches(mismatches)


@pytest.mark.parametrize(
    "name,dim,rank,pd_combine,strategy,outputs",
    [
        ("dense", 4, 1, "structured", "tree", "final"),
        ("diagonal", 3, 1, "structured", "sklansky", "all"),
        ("pd", 3, 1, "structured", "ladner-fischer", "all"),
        ("pd", 3, 1, "monomial", "kogge-stone", "all"),
        ("dplr", 4, 1, "structured", "kogge-stone", "all"),
        ("dplr", 3, 2, "structured", "brent-kung", "all"),
        ("deltanet", 4, 1, "structured", "brent-kung", "all"),
        ("gated-deltanet", 3, 1, "structured", "serial", "all"),
        ("rwkv7", 3, 1, "structured", "ladner-fischer", "final"),
        ("pd", None, 1, "structured", "ladner-fischer", "all"),
        ("dplr", None, 1, "structured", "sklansky", "all"),
        ("elman", None, 1, "structured", "chain", "all"),
    ],
)
def test_formulas_match_at_large_n(name, dim, rank, pd_combine, strategy, outputs):
    model = model_for(name, dim, rank)
    mismatches = verify_family_formulas(
        model,
        strategy,
        1,
        outputs=outputs,
        pd_combine=pd_combine,
        n_values=[200, 257, 1000],
    )
    assert_no_mismatches(mismatches)


def test_dense_tree_formulas_are_known():
    found = family_formulas(free_model("dense", 4), "tree")
    # A dense combine has D^3 + D^2 products and D^2 (D - 1) + D^2 sums, 144
    # gates in all. The apply has D^2 products and D^2 sums, 32 gates.
    assert found["size"] == 144 * (N_SYMBOL - 1) + 32
    assert found["nonlinear_depth"] == 0
    depths = [evaluate_exact(found["depth"], n) for n in (1, 2, 16, 17, 31, 32, 64)]
    assert depths == [4, 7, 17, 19, 20, 21, 25]


def test_elman_chain_formulas_are_linear():
    found = family_formulas(model_for("elman"), "chain")
    n = N_SYMBOL
    assert found["size"] == 9 * n - 3
    assert found["depth"] == 4 * n + 1
    assert found["nonlinear_depth"] == n + 1


def test_formulas_use_only_n():
    for strategy, outputs in (("kogge-stone", "all"), ("brent-kung", "all")):
        found = family_formulas(model_for("dplr", 3), strategy, outputs=outputs)
        assert set(found) == set(QUANTITIES)
        for expr in found.values():
            assert expr.free_symbols <= {N_SYMBOL}


# ---------------------------------------------------------------------------
# Wrong formulas are reported
# ---------------------------------------------------------------------------


def test_wrong_formula_reports_n_and_values():
    model = model_for("pd", 3)
    found = family_formulas(model, "sklansky")
    wrong = {"size": found["size"] + sympy.KroneckerDelta(N_SYMBOL, 5)}
    mismatches = verify_family_formulas(model, "sklansky", 8, formulas=wrong)
    measured = evaluate_exact(found["size"], 5)
    assert mismatches == [Mismatch(5, "size", measured + 1, measured)]


def test_wrong_depth_formula_reported_everywhere():
    model = model_for("dense", 3)
    mismatches = verify_family_formulas(
        model, "tree", 4, formulas={"depth": sympy.Integer(0)}
    )
    assert [m.n for m in mismatches] == [1, 2, 3, 4]
    assert all(m.quantity == "depth" for m in mismatches)
    assert all(m.formula_value == 0 < m.measured_value for m in mismatches)


def test_unknown_quantity_rejected():
    with pytest.raises(CompileError, match="unknown quantities"):
        verify_family_formulas(
            model_for("dense", 3), "tree", 2, formulas={"width": sympy.Integer(1)}
        )


# ---------------------------------------------------------------------------
# Requests without a formula
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,strategy,outputs,message",
    [
        ("pd", "tree", "all", "computes only the final state"),
        ("pd", "bogus", "final", "unknown strategy"),
        ("elman", "tree", "final", "needs a linear RNN"),
        ("pd", "sklansky", "some", "outputs must be"),
    ],
)
def test_invalid_requests_raise(name, strategy, outputs, message):
    with pytest.raises(CompileError, match=message):
        family_formulas(model_for(name), strategy, outputs=outputs)


def test_decaying_constant_has_no_formula():
    # The diagonal spec multiplies the constant 1/2 into a new constant 1/2^L at
    # every length L, so the constant pattern never settles.
    with pytest.raises(CompileError, match="no exact formula.*circuitlab sweep"):
        family_formulas(model_for("diagonal"), "tree")


def test_multilayer_model_has_no_formula():
    with pytest.raises(CompileError, match="no exact formula"):
        family_formulas(model_for("deltanet-2layer"), "tree")


# ---------------------------------------------------------------------------
# Evaluation and helpers
# ---------------------------------------------------------------------------


def test_evaluate_exact_matches_evaluate_formula():
    # evaluate_formula decides every nested Piecewise condition, also in branches
    # it drops, so small n check that those conditions stay defined.
    model = model_for("dplr", 3)
    for strategy, outputs in MODES:
        found = family_formulas(model, strategy, outputs=outputs)
        for quantity, expr in found.items():
            for n in (1, 2, 3, 4, 5, 64):
                assert evaluate_exact(expr, n) == evaluate_formula(expr, n), (
                    quantity,
                    n,
                )


def test_max_over_evaluates_and_binds_its_variable():
    q = sympy.Symbol("q", integer=True)
    body = sympy.Mod(sympy.floor(N_SYMBOL / 2**q), 2) * (q + 1)
    expr = max_over(body, q, 0, sympy.Integer(6))
    assert expr.free_symbols == {N_SYMBOL}
    assert expr.subs(N_SYMBOL, 12) == 4  # highest one bit of 12 = 0b1100 is bit 3
    assert evaluate_exact(expr, 12) == 4
    assert max_over(body, q, 3, 2).subs(N_SYMBOL, 5) == 0


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(-20, 20)), min_size=1, max_size=6
    ),
    st.integers(0, 4),
)
def test_upper_envelope_keeps_the_maximum(pieces, start):
    kept = _upper_envelope(pieces, start)
    for i in range(start, start + 60):
        assert max(a * i + b for a, b in kept) == max(a * i + b for a, b in pieces)


@given(
    st.lists(st.integers(-5, 30), max_size=4),
    st.tuples(st.integers(0, 3), st.integers(-10, 10)),
    st.lists(st.integers(-5, 30), max_size=4),
    st.tuples(st.integers(0, 3), st.integers(-10, 10)),
)
def test_scalar_comparison_is_pointwise(table_a, piece_a, table_b, piece_b):
    a = _Scalar(tuple(table_a), (piece_a,))
    b = _Scalar(tuple(table_b), (piece_b,))
    pointwise = all(a.at(i) <= b.at(i) for i in range(200))
    assert a.le(b) == pointwise


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_cli_prints_formulas(capsys):
    status = main(["formula", "--model", "dense", "--free", "--state-dim", "4"])
    out = capsys.readouterr().out
    assert status == 0
    assert "size(n) = 144*n - 112" in out
    assert "depth(n) = " in out


def test_cli_verify_match_exits_zero(capsys):
    status = main(
        ["formula", "--model", "pd", "-s", "brent-kung", "--verify", "--max-n", "12"]
    )
    assert status == 0
    assert "all 12 values match" in capsys.readouterr().out


def test_cli_verify_mismatch_exits_one(capsys, monkeypatch):
    right = formulas_module.family_formulas

    def off_by_one(*args, **kwargs):
        found = right(*args, **kwargs)
        found["size"] = found["size"] + 1
        return found

    monkeypatch.setattr(formulas_module, "family_formulas", off_by_one)
    status = main(
        ["formula", "--model", "pd", "-s", "tree", "--verify", "--max-n", "3"]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "3 mismatches" in out
    assert "size" in out


def test_cli_json_output(capsys):
    argv = ["formula", "-m", "elman", "--verify", "--max-n", "5", "--json"]
    status = main(argv)
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["strategy"] == "chain"
    assert document["formulas"]["size"] == "9*n - 3"
    assert document["mismatches"] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["formula", "--model", "pd", "--strategy", "bogus"],
        ["formula", "--model", "pd", "--strategy", "tree", "--outputs", "all"],
        ["formula", "--model", "dense", "--free"],
        ["formula", "--model", "pd", "--verify", "--max-n", "0"],
        ["formula", "--model", "diagonal", "--strategy", "tree"],
    ],
)
def test_cli_bad_input_exits_two(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_compile_formula_option(capsys):
    status = main(["compile", "--model", "pd", "--n", "8", "--formula"])
    assert status == 0
    assert "size(n) = " in capsys.readouterr().out
