"""Tests for claims: growth estimation, formula analysis, verdicts, parsing and the CLI."""

from __future__ import annotations

import json
import math
import sys
import textwrap

import pytest
import sympy

from circuitlab.analysis import fitting
from circuitlab.analysis.claims import (
    check_claims,
    family_formula,
    judge_claim,
    load_claims,
    parse_claims,
)
from circuitlab.analysis.fitting import (
    CLASSES,
    ZERO,
    Growth,
    estimate_growth,
    formula_growth,
)
from circuitlab.analysis.sweep import parse_n_values
from circuitlab.cli import main
from circuitlab.compile.schedules import (
    N_SYMBOL,
    STRATEGY_NAMES,
    ceil_log2,
    depth_formula,
    evaluate_formula,
    floor_log2,
    size_formula,
)
from circuitlab.errors import FormatError

n = N_SYMBOL
LOG, LOG2, LINEAR, NLOGN, SQUARE = (
    CLASSES[1],
    CLASSES[2],
    CLASSES[3],
    CLASSES[4],
    CLASSES[5],
)


def ceil2(x: int) -> int:
    return (x - 1).bit_length()


def single_claim_table(**keys) -> dict:
    base = {"n": "1..128"}
    base.update(keys)
    return {"claim": [base]}


def check_one(jobs=1, formulas=None, **keys):
    claims = parse_claims(single_claim_table(**keys))
    return check_claims(claims, jobs=jobs, formulas=formulas)[0]


# ---------------------------------------------------------------------------
# Growth classes and bounds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "growth"),
    [
        ("O(1)", "O", CLASSES[0]),
        ("Theta(log n)", "Theta", LOG),
        ("Omega( log^2 n )", "Omega", LOG2),
        ("O(n)", "O", LINEAR),
        ("Θ(n log n)", "Theta", NLOGN),
        ("Ω(n^2)", "Omega", SQUARE),
        ("O(log(n))", "O", LOG),
    ],
)
def test_parse_bound(text, kind, growth):
    assert fitting.parse_bound(text) == (kind, growth)


@pytest.mark.parametrize("text", ["O(n^3)", "Big(n)", "O n", "Theta()", "o(n)", 3])
def test_parse_bound_rejects(text):
    with pytest.raises(ValueError):
        fitting.parse_bound(text)


@pytest.mark.parametrize(
    ("kind", "claimed", "lower", "upper", "satisfied"),
    [
        ("Theta", LOG, LOG, LOG, True),
        ("Theta", LOG, LOG, LINEAR, False),
        ("O", LINEAR, LOG, LINEAR, True),
        ("O", LOG, LOG, LINEAR, False),
        ("Omega", LOG, LOG, LINEAR, True),
        ("Omega", LINEAR, LOG, LINEAR, False),
        ("Theta", CLASSES[0], ZERO, ZERO, False),
        ("O", CLASSES[0], ZERO, ZERO, True),
    ],
)
def test_bound_satisfied(kind, claimed, lower, upper, satisfied):
    assert fitting.bound_satisfied(kind, claimed, lower, upper) is satisfied


# ---------------------------------------------------------------------------
# Numeric path on synthetic metrics
# ---------------------------------------------------------------------------

SYNTHETIC = [
    ("zero", lambda x: 0, ZERO),
    ("constant", lambda x: 7, CLASSES[0]),
    ("settling constant", lambda x: 5 - 3 / max(ceil2(x), 1), CLASSES[0]),
    ("ceil log", lambda x: 2 * ceil2(x) + 3, LOG),
    ("log squared", lambda x: ceil2(x) ** 2 + 5 * ceil2(x), LOG2),
    ("linear with offset", lambda x: 3 * x + 100, LINEAR),
    ("tree size", lambda x: x - 1, LINEAR),
    ("kogge-stone size", lambda x: x * ceil2(x) - 2 ** ceil2(x) + 1, NLOGN),
    ("triangle", lambda x: x * (x - 1) // 2, SQUARE),
    ("n log^2 n", lambda x: x * ceil2(x) ** 2, Growth(1, 2)),
    ("cube", lambda x: x**3, Growth(3, 0)),
]


@pytest.mark.parametrize(
    ("name", "metric", "expected"), SYNTHETIC, ids=[s[0] for s in SYNTHETIC]
)
def test_estimate_growth_synthetic(name, metric, expected):
    ns = parse_n_values("1..1024")
    estimate = estimate_growth(ns, [metric(x) for x in ns])
    assert estimate.lower == expected, estimate.reason
    assert estimate.upper == expected, estimate.reason


@pytest.mark.parametrize(
    "metric",
    [
        lambda x: ceil2(x) + 40,  # looks constant, fits log n: least squares objects
        lambda x: ceil2(x) ** 3,  # log^3 n is beyond the difference test
        lambda x: math.isqrt(x),  # sqrt n lies between classes
    ],
)
def test_estimate_growth_undecided(metric):
    ns = parse_n_values("1..1024")
    estimate = estimate_growth(ns, [metric(x) for x in ns])
    assert estimate.lower is None
    assert estimate.reason


def test_estimate_growth_oscillating():
    ns = parse_n_values("1..1024")
    estimate = estimate_growth(ns, [2 ** ceil2(x) - x for x in ns])
    assert estimate.lower == ZERO
    assert estimate.upper == LINEAR
    assert "differs between chains" in estimate.reason


@pytest.mark.parametrize(
    ("ns", "fragment"),
    [
        ([1, 2, 4, 8, 100, 200], "only 3 doublings"),
        (parse_n_values("1..32"), "below the minimum 64"),
        ([3, 6, 7, 11, 13, 100, 1000], "only 1 doubling n"),
    ],
)
def test_estimate_growth_too_few_points(ns, fragment):
    estimate = estimate_growth(ns, [x for x in ns])
    assert estimate.lower is None
    assert fragment in estimate.reason


def test_estimate_growth_reports_fits():
    ns = parse_n_values("1..256")
    estimate = estimate_growth(ns, [4 * x + 1 for x in ns])
    fits = {fit.growth: fit for fit in estimate.fits}
    assert set(fits) == set(CLASSES)
    assert fits[LINEAR].slope == pytest.approx(4)
    assert fits[LINEAR].intercept == pytest.approx(1)
    assert fits[LINEAR].relative_rms < 1e-9
    assert fits[LOG].relative_rms > 0.1


# ---------------------------------------------------------------------------
# Exact path on formulas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_formula_growth_of_schedules(name):
    size = {
        "tree": LINEAR,
        "serial": LINEAR,
        "brent-kung": LINEAR,
        "sklansky": NLOGN,
        "kogge-stone": NLOGN,
        "ladner-fischer": NLOGN,
    }[name]
    depth = LINEAR if name == "serial" else LOG
    assert formula_growth(size_formula(name)).lower == size
    assert formula_growth(size_formula(name)).upper == size
    assert formula_growth(depth_formula(name)).upper == depth


@pytest.mark.parametrize(
    ("expr", "lower", "upper"),
    [
        (2 ** ceil_log2(n) - n, ZERO, LINEAR),
        (3 * n * (n - 1) / 2, SQUARE, SQUARE),
        (ceil_log2(n) * floor_log2(n) + 7, LOG2, LOG2),
        (sympy.Integer(5), CLASSES[0], CLASSES[0]),
        (n**3 + n, Growth(3, 0), Growth(3, 0)),  # beyond the basis: relaxed limit
    ],
)
def test_formula_growth_examples(expr, lower, upper):
    growth = formula_growth(expr)
    assert (growth.lower, growth.upper) == (lower, upper)


def test_formula_limits_along_sequences():
    growth = formula_growth(3 * n * ceil_log2(n) - 2 ** ceil_log2(n) + 1)
    limits = [fitting.sequence_limit(s, NLOGN) for s in growth.sequences]
    assert limits == [3, 3, 3]
    assert [fitting.sequence_limit(s, LINEAR) for s in growth.sequences] == [
        sympy.oo
    ] * 3
    assert [fitting.sequence_limit(s, SQUARE) for s in growth.sequences] == [0] * 3


@pytest.mark.parametrize("claimed", [LOG, LINEAR, NLOGN, SQUARE])
def test_sequence_limit_agrees_with_sympy(claimed):
    growth = formula_growth(n * (n - 1) // 2 + 5 * n * ceil_log2(n) + floor_log2(n))
    for sequence in growth.sequences:
        k = sympy.Symbol("k", positive=True, integer=True)
        n_k = sequence.n_expression()
        g = n_k**claimed.power * sympy.log(n_k, 2) ** claimed.log_power
        expected = sympy.limit(sequence.expression() / g, k, sympy.oo)
        assert fitting.sequence_limit(sequence, claimed) == expected


def test_formula_growth_rejects_other_symbols():
    with pytest.raises(fitting.GrowthError, match="free symbols D"):
        formula_growth(sympy.Symbol("D") * n)


# ---------------------------------------------------------------------------
# Verdicts on real circuits: every class boundary fails a false claim
# ---------------------------------------------------------------------------

FALSE_CLAIMS = [
    # (model, strategy, outputs, metric, bound, rate in the reason)
    ("elman", "chain", "final", "depth", "O(log n)", "grows like n:"),
    ("elman", "chain", "final", "nonlinear_depth", "O(1)", "grows like n:"),
    ("diagonal", "tree", "final", "depth", "O(1)", "grows like log n:"),
    ("diagonal", "tree", "final", "depth", "Theta(log^2 n)", "grows like log n:"),
    ("diagonal", "tree", "final", "depth", "Omega(log^2 n)", "grows like log n:"),
    ("diagonal", "serial", "all", "depth", "O(log^2 n)", "grows like n:"),
    ("diagonal", "kogge-stone", "all", "size", "O(n)", "grows like n log n:"),
    ("diagonal", "brent-kung", "all", "size", "Omega(n log n)", "grows like n:"),
    ("diagonal", "serial", "all", "size", "Omega(n^2)", "grows like n:"),
    ("diagonal", "sklansky", "all", "size", "Theta(n^2)", "grows like n log n:"),
    ("diagonal", "sklansky", "all", "max_fanout", "O(log n)", "grows like n:"),
    ("diagonal", "tree", "final", "nonlinear_depth", "Omega(log n)", "grows like 1:"),
]


@pytest.fixture(scope="module")
def false_claim_results():
    table = {
        "claim": [
            {
                "model": m,
                "strategy": s,
                "outputs": o,
                "metric": metric,
                "bound": bound,
                "n": "1..128",
            }
            for m, s, o, metric, bound, _ in FALSE_CLAIMS
        ]
    }
    return check_claims(parse_claims(table), jobs=2, formulas=None)


@pytest.mark.parametrize("row", range(len(FALSE_CLAIMS)))
def test_false_claim_fails(false_claim_results, row):
    result = false_claim_results[row]
    bound = FALSE_CLAIMS[row][4]
    assert result.verdict == "FAIL", result.reason
    assert FALSE_CLAIMS[row][5] in result.reason
    assert f"not {bound}" in result.reason
    assert result.method == "fit"


@pytest.mark.parametrize(
    ("model", "strategy", "metric", "bound"),
    [
        ("elman", "chain", "depth", "Theta(n)"),
        ("diagonal", "tree", "depth", "Theta(log n)"),
        ("diagonal", "tree", "nonlinear_depth", "Theta(1)"),
        ("diagonal", "tree", "size", "O(n log n)"),
        ("diagonal", "tree", "depth", "Omega(1)"),
    ],
)
def test_true_claim_passes(model, strategy, metric, bound):
    result = check_one(model=model, strategy=strategy, metric=metric, bound=bound)
    assert result.verdict == "PASS", result.reason


def test_zero_metric_is_not_theta_one():
    result = check_one(
        model="diagonal",
        free=True,
        state_dim=1,
        metric="nonlinear_depth",
        bound="Theta(1)",
    )
    assert result.verdict == "FAIL"
    assert "grows like 0" in result.reason


@pytest.mark.parametrize(
    ("n_values", "fragment"),
    [([1, 2, 4, 8, 64], "only 3 doublings"), ("1..32", "below the minimum 64")],
)
def test_too_few_points_inconclusive(n_values, fragment):
    result = check_one(model="elman", metric="depth", bound="O(log n)", n=n_values)
    assert result.verdict == "INCONCLUSIVE"
    assert fragment in result.reason


def test_expect_mismatch_fails_and_match_passes():
    good = check_one(
        model="diagonal",
        free=True,
        state_dim=3,
        metric="size_per_combine",
        bound="Theta(1)",
        expect="3*D",
    )
    assert good.verdict == "PASS", good.reason
    bad = check_one(
        model="diagonal",
        free=True,
        state_dim=3,
        metric="size",
        bound="Theta(n)",
        expect="3*D*n",
    )
    assert bad.verdict == "FAIL"
    assert "expect = '3*D*n'" in bad.reason


# ---------------------------------------------------------------------------
# Formula path with an injected provider
# ---------------------------------------------------------------------------

FREE_DIAGONAL_TREE_DEPTH = sympy.Piecewise(
    (2, n < 2), (ceil_log2(n) + floor_log2(n) + 1, True)
)


def correct_formula(claim):
    return {"depth": FREE_DIAGONAL_TREE_DEPTH, "size": 6 * n - 2}.get(claim.metric), ""


def wrong_formula(claim):
    return 2 * ceil_log2(n) + 1, ""


def no_formula(claim):
    return None, "no formula for this test"


FREE_DIAGONAL = {"model": "diagonal", "free": True, "state_dim": 2, "strategy": "tree"}


@pytest.mark.parametrize(
    ("metric", "bound", "verdict", "fragment"),
    [
        ("depth", "Theta(log n)", "PASS", "grows like log n"),
        ("depth", "O(1)", "FAIL", "so not O(1)"),
        ("size", "Theta(n)", "PASS", "grows like n"),
        ("size", "O(log^2 n)", "FAIL", "so not O(log^2 n)"),
    ],
)
def test_formula_path_verdicts(metric, bound, verdict, fragment):
    result = check_one(
        formulas=correct_formula, metric=metric, bound=bound, **FREE_DIAGONAL
    )
    assert result.method == "formula"
    assert result.verdict == verdict, result.reason
    assert fragment in result.reason
    assert result.evidence["formula"]["mismatches"] == []


def test_formula_mismatch_fails():
    result = check_one(
        formulas=wrong_formula, metric="depth", bound="Theta(log n)", **FREE_DIAGONAL
    )
    assert result.verdict == "FAIL"
    assert result.method == "formula"
    assert "gives 1 at n = 1 but the circuit has depth 2" in result.reason


def test_formula_with_too_few_points_inconclusive():
    result = check_one(
        formulas=correct_formula,
        metric="depth",
        bound="Theta(log n)",
        n=[1, 2, 4, 8],
        **FREE_DIAGONAL,
    )
    assert result.verdict == "INCONCLUSIVE"
    assert "matches all 4 points" in result.reason


def test_no_formula_falls_back_to_fit():
    result = check_one(
        formulas=no_formula, metric="depth", bound="Theta(log n)", **FREE_DIAGONAL
    )
    assert result.method == "fit"
    assert result.verdict == "PASS"
    assert result.evidence["formula"] == "no formula for this test"


def test_oscillating_formula_judged_by_lower_and_upper():
    claims = parse_claims(
        single_claim_table(model="diagonal", metric="depth", bound="O(n)", n="1..256")
    )
    oscillating = 2 ** ceil_log2(n) - n
    points = [(x, evaluate_formula(oscillating, x)) for x in claims[0].n_values]
    provider = lambda claim: (oscillating, "")  # noqa: E731
    upper = judge_claim(claims[0], points, formulas=provider)
    assert upper.verdict == "PASS", upper.reason
    tight = parse_claims(
        single_claim_table(
            model="diagonal", metric="depth", bound="Theta(n)", n="1..256"
        )
    )
    result = judge_claim(tight[0], points, formulas=provider)
    assert result.verdict == "FAIL"
    assert "between 0 and n" in result.reason


@pytest.mark.parametrize(
    ("model", "strategy", "metric", "bound", "verdict"),
    [
        ("elman", "chain", "depth", "Theta(n)", "PASS"),
        ("elman", "chain", "depth", "O(log n)", "FAIL"),
        ("dense", "kogge-stone", "size", "Theta(n log n)", "PASS"),
        ("dense", "kogge-stone", "size", "O(n)", "FAIL"),
    ],
)
def test_real_family_formulas(model, strategy, metric, bound, verdict):
    try:
        from circuitlab.analysis.formulas import family_formulas  # noqa: F401
    except ImportError:
        pytest.skip("circuitlab.analysis.formulas.family_formulas is not available")
    outputs = "all" if strategy != "chain" else "final"
    result = check_one(
        formulas=family_formula,
        model=model,
        strategy=strategy,
        outputs=outputs,
        metric=metric,
        bound=bound,
    )
    assert result.verdict == verdict, result.reason
    if result.method == "formula":
        assert result.evidence["formula"]["mismatches"] == []


@pytest.mark.parametrize(
    ("bound", "verdict"),
    [("O(n)", "PASS"), ("Omega(n^2)", "FAIL"), ("Theta(n)", "INCONCLUSIVE")],
)
def test_oscillating_metric_on_fitting_path(bound, verdict):
    table = single_claim_table(
        model="diagonal", metric="depth", bound=bound, n="1..256"
    )
    claim = parse_claims(table)[0]
    points = [(x, 2 ** ceil2(x) - x) for x in claim.n_values]
    result = judge_claim(claim, points, formulas=None)
    assert result.verdict == verdict, result.reason
    assert "differs between chains" in result.reason


def test_family_formula_without_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "circuitlab.analysis.formulas", None)
    table = single_claim_table(model="diagonal", metric="depth", bound="O(log n)")
    claim = parse_claims(table)[0]
    assert family_formula(claim) == (None, "no formula module")


# ---------------------------------------------------------------------------
# Claim files
# ---------------------------------------------------------------------------

BAD_FILE = """
surprise = 1

[[claim]]
model = "diagonal"
metric = "sise"
bound = "O(log n)"

[[claim]]
model = "diagonal"
metric = "depth"
bound = "O(n^3)"

[[claim]]
model = "diagonal"
metric = "depth"
bound = "Big(n)"

[[claim]]
model = "no-such-model"
metric = "depth"
bound = "O(n)"

[[claim]]
model = "diagonal"
strategy = "zigzag"
metric = "depth"
bound = "O(n)"

[[claim]]
model = "diagonal"
bound = "O(n)"

[[claim]]
model = "diagonal"
metric = "depth"
bound = "O(n)"
n = [1, 0, "x"]

[[claim]]
name = "typo"
model = "diagonal"
metric = "depth"
bound = "O(n)"
colour = "red"

[[claim]]
model = "elman"
strategy = "tree"
metric = "depth"
bound = "O(n)"

[[claim]]
metric = "depth"
bound = "O(n)"
n = "9..3"

[[claim]]
model = "elman"
metric = "size_per_combine"
bound = "O(1)"
expect = "__import__"
"""


def test_malformed_file_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_FILE)
    with pytest.raises(FormatError) as caught:
        load_claims(path)
    message = str(caught.value)
    assert "\n" not in message
    expected = [
        "surprise: unknown top-level key",
        "claim 1 metric: unknown metric 'sise'",
        "claim 2 bound: unknown class 'n^3'",
        "claim 3 bound: unknown bound kind 'Big'",
        "claim 4 model: unknown model 'no-such-model'",
        "claim 5 strategy: unknown strategy 'zigzag'",
        "claim 6 metric: missing",
        "claim 7 n: expected a non-empty list of integers >= 1, found [0, 'x']",
        "claim 8 (typo) colour: unknown key",
        "claim 9 strategy: tree with model elman",
        "claim 10 model: missing",
        "claim 10 n: range '9..3' is empty; write A..B with A <= B",
        "claim 11 metric: size_per_combine needs a combine strategy",
        "claim 11 expect: unknown name __import__",
    ]
    for fragment in expected:
        assert fragment in message
    assert message.startswith(f"{path}: {len(expected)} problems: ")


def test_invalid_toml_is_format_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[[claim]\nmodel = ")
    with pytest.raises(FormatError, match="invalid TOML"):
        load_claims(path)


def test_defaults_apply_and_claims_override():
    table = {
        "defaults": {"n": [1, 2, 4], "metric": "size"},
        "claim": [
            {"model": "diagonal", "bound": "O(n)"},
            {"model": "diagonal", "bound": "O(n)", "metric": "depth", "n": "1..8"},
        ],
    }
    first, second = parse_claims(table)
    assert (first.metric, first.n_values) == ("size", (1, 2, 4))
    assert (second.metric, second.n_values) == ("depth", (1, 2, 3, 4, 5, 6, 8))
    assert first.strategy == "tree"


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def write(tmp_path, text: str):
    path = tmp_path / "claims.toml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_cli_exit_status_fail(tmp_path, capsys):
    path = write(
        tmp_path,
        """
        [[claim]]
        model = "elman"
        metric = "depth"
        bound = "O(log n)"
        n = "1..128"
    """,
    )
    assert main(["check", path, "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "0 passed, 1 failed, 0 inconclusive" in out


def test_cli_inconclusive_exits_zero(tmp_path, capsys):
    path = write(
        tmp_path,
        """
        [[claim]]
        model = "elman"
        metric = "depth"
        bound = "Theta(n)"
        n = [1, 2, 4]
    """,
    )
    assert main(["check", path, "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 inconclusive (inconclusive claims are not failures" in out


def test_cli_json_output(tmp_path, capsys):
    path = write(
        tmp_path,
        """
        [[claim]]
        name = "chain depth"
        model = "elman"
        metric = "depth"
        bound = "Theta(n)"
        n = "1..128"
    """,
    )
    assert main(["check", path, "--json", "--jobs", "1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"PASS": 1, "FAIL": 0, "INCONCLUSIVE": 0}
    claim = document["claims"][0]
    assert claim["name"] == "chain depth"
    assert len(claim["evidence"]["points"]) == len(parse_n_values("1..128"))
    if claim["method"] == "formula":
        assert claim["evidence"]["formula"]["mismatches"] == []
        assert claim["evidence"]["formula"]["upper"] == "n"
    else:
        assert claim["method"] == "fit"
        assert claim["evidence"]["fit"]["ratio_tests"][0]["power_of_n"] == 1


def test_cli_malformed_file_exit_two(tmp_path, capsys):
    path = write(
        tmp_path,
        """
        [[claim]]
        model = "diagonal"
        metric = "sise"
        bound = "O(m)"
    """,
    )
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "claim 1 metric" in err
    assert "claim 1 bound" in err


def test_spec_path_relative_to_claims_file(tmp_path, monkeypatch):
    from circuitlab.analysis.claims import load_claims
    from circuitlab.spec import shipped_specs

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mine.toml").write_text(
        shipped_specs()["pd"].read_text(encoding="utf-8"), encoding="utf-8"
    )
    claims_file = tmp_path / "claims.toml"
    claims_file.write_text(
        '[[claim]]\nmodel = "specs/mine.toml"\nstrategy = "tree"\n'
        'metric = "nonlinear_depth"\nbound = "Theta(1)"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir("/")
    claims = load_claims(claims_file)
    assert len(claims) == 1
