"""Claims: asymptotic statements about circuit metrics, checked on real circuits.

A claims file is TOML with one ``[[claim]]`` table per statement and an optional
``[defaults]`` table whose keys apply to every claim that does not set them:

.. code-block:: toml

    [[claim]]
    name = "diagonal tree is log-depth"
    model = "diagonal"          # shipped spec, spec path, family (free = true) or MODULE:ATTR
    strategy = "tree"           # default: tree (linear) or chain (nonlinear)
    metric = "depth"
    bound = "O(log n)"          # Theta, O or Omega of 1, log n, log^2 n, n, n log n, n^2
    n = "1..1024"               # or a list [1, 2, 4, 8]

:func:`check_claims` compiles every point (in parallel, each distinct circuit
once), then :func:`judge_claim` gives each claim PASS, FAIL or INCONCLUSIVE. How a
verdict is reached, with its thresholds, is described in docs/claims.md.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import sympy

from circuitlab.analysis import fitting
from circuitlab.analysis.fitting import Growth, GrowthError
from circuitlab.analysis.sweep import (
    ALL_METRICS,
    ModelRef,
    SweepTask,
    pair_problem,
    parallel_map,
    parse_n_values,
    run_sweep,
)
from circuitlab.errors import CircuitlabError, FormatError

__all__ = [
    "Claim",
    "ClaimResult",
    "CLAIM_KEYS",
    "DEFAULT_N",
    "VERDICTS",
    "load_claims",
    "parse_claims",
    "check_claims",
    "judge_claim",
    "family_formula",
    "summarize",
]

logger = logging.getLogger(__name__)

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")
#: n values of a claim that sets none.
DEFAULT_N = "1..1024"
#: Keys a claim (or [defaults]) may set, with their meaning.
CLAIM_KEYS = {
    "name": "short label shown in the report",
    "model": "shipped spec name, spec path, linear family with free = true, or MODULE:ATTR",
    "free": "true: transition parameters are circuit inputs (model names a linear family)",
    "state_dim": "state size D of a free model",
    "rank": "rank of the low-rank term of a free dplr model",
    "params": "keyword arguments for a MODULE:ATTR model factory",
    "strategy": "chain, tree or a prefix network",
    "outputs": "final or all",
    "fold": "build-time constant folding (default true)",
    "pd_combine": "structured or monomial",
    "metric": "metric name",
    "bound": "KIND(CLASS), e.g. Theta(n log n)",
    "n": "n values: a list of integers or a string of integers and ranges A..B",
    "expect": "exact value the metric must equal at every n, an expression in n and D",
    "seed": "seed of the random inputs of the precision metrics",
    "samples": "random inputs drawn per n for the precision metrics",
}
_ALLOWED_EXPECT_NAMES = ("n", "D", "ceil_log2", "floor_log2", "log2")
_EXPECT_CHARACTERS = re.compile(r"^[0-9A-Za-z_+\-*/^() ]+$")


@dataclass(frozen=True)
class Claim:
    """One validated claim. ``index`` is 1-based, in file order."""

    index: int
    model: ModelRef
    strategy: str
    metric: str
    kind: str
    growth: Growth
    n_values: tuple[int, ...]
    name: str = ""
    outputs: str = "final"
    fold: bool = True
    pd_combine: str = "structured"
    expect: str | None = None
    seed: int = 0
    samples: int = 1

    @property
    def bound(self) -> str:
        return f"{self.kind}({self.growth.label})"

    @property
    def statement(self) -> str:
        where = self.strategy + (", all outputs" if self.outputs == "all" else "")
        return f"{self.metric} of {self.model.label} ({where}) is {self.bound}"

    def task_key(self, n: int) -> tuple:
        return (
            self.model,
            self.strategy,
            n,
            self.outputs,
            self.fold,
            self.pd_combine,
            self.seed,
            self.samples,
        )


@dataclass
class ClaimResult:
    """Verdict on one claim with the reason and the evidence behind it.

    ``method`` is ``"formula"`` (exact family formula), ``"fit"`` (ratio test and
    least squares on the measured points) or ``None`` (decided before either).
    """

    claim: Claim
    verdict: str
    reason: str
    method: str | None = None
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "index": self.claim.index,
            "name": self.claim.name,
            "statement": self.claim.statement,
            "model": self.claim.model.name,
            "strategy": self.claim.strategy,
            "metric": self.claim.metric,
            "bound": self.claim.bound,
            "verdict": self.verdict,
            "reason": self.reason,
            "method": self.method,
            "evidence": self.evidence,
        }


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


class _Problems:
    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            count = len(self.items)
            noun = "problem" if count == 1 else "problems"
            raise FormatError(f"{self.source}: {count} {noun}: {'; '.join(self.items)}")


def load_claims(path: str | Path) -> list[Claim]:
    """Read and validate a claims file.

    Raises
    ------
    FormatError
        If the file cannot be read or parsed, or any claim is invalid; one error
        lists every problem with the claim's index and key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(f"cannot read claims file {path}: {error}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FormatError(f"{path}: invalid TOML: {error}") from None
    _resolve_spec_paths(table, path.parent)
    return parse_claims(table, source=str(path))


def _resolve_spec_paths(table: dict, folder: Path) -> None:
    """Read relative spec paths (``model = "specs/x.toml"``) against the claims file."""
    tables = [table.get("defaults")]
    if isinstance(table.get("claim"), list):
        tables += table["claim"]
    for entry in tables:
        if not isinstance(entry, dict):
            continue
        model = entry.get("model")
        if (
            isinstance(model, str)
            and model.endswith(".toml")
            and not Path(model).is_absolute()
        ):
            candidate = folder / model
            if candidate.exists():
                entry["model"] = str(candidate)


def parse_claims(table: dict, *, source: str = "<claims>") -> list[Claim]:
    """Validate a parsed claims table; see :func:`load_claims`."""
    problems = _Problems(source)

    for key in table:
        if key not in ("claim", "defaults"):
            problems.add(
                key, "unknown top-level key (expected [[claim]] tables and [defaults])"
            )
    defaults = table.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.add("defaults", "expected a table")
        defaults = {}
    for key in defaults:
        if key not in CLAIM_KEYS:
            problems.add(
                f"defaults.{key}", f"unknown key (known: {', '.join(CLAIM_KEYS)})"
            )

    entries = table.get("claim")
    if entries is None:
        problems.add("claim", "missing: add at least one [[claim]] table")
        entries = []
    elif not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.add("claim", "expected [[claim]] tables")
        entries = []

    claims = []
    models: dict[ModelRef, object] = {}
    for number, entry in enumerate(entries, start=1):
        merged = {**{k: v for k, v in defaults.items() if k in CLAIM_KEYS}, **entry}
        label = f"claim {number}"
        if isinstance(entry.get("name"), str) and entry["name"]:
            label += f" ({entry['name']})"
        claim = _parse_claim(number, merged, entry, label, problems, models)
        if claim is not None:
            claims.append(claim)
    problems.raise_if_any()
    return claims


def _parse_claim(number, table, own, label, problems, models) -> Claim | None:
    count = len(problems.items)

    def bad(key: str, message: str) -> None:
        problems.add(f"{label} {key}", message)

    for key in own:
        if key not in CLAIM_KEYS:
            bad(key, f"unknown key (known: {', '.join(CLAIM_KEYS)})")

    def typed(key, kinds, default, description):
        if key not in table:
            return default
        value = table[key]
        # TOML booleans are Python bools, which isinstance(..., int) accepts.
        is_bool_for_number = isinstance(value, bool) and bool not in kinds
        if is_bool_for_number or not isinstance(value, kinds):
            bad(key, f"expected {description}, got {value!r}")
            return default
        return value

    name = typed("name", (str,), "", "a string")
    model_name = typed("model", (str,), None, "a model name string")
    if "model" not in table:
        bad("model", "missing (a shipped spec name, spec path, family or MODULE:ATTR)")
    free = typed("free", (bool,), False, "true or false")
    state_dim = typed("state_dim", (int,), None, "an integer >= 1")
    rank = typed("rank", (int,), 1, "an integer >= 1")
    params = typed("params", (dict,), {}, "a table")
    strategy = typed("strategy", (str,), None, "a strategy name")
    outputs = typed("outputs", (str,), "final", "final or all")
    fold = typed("fold", (bool,), True, "true or false")
    pd_combine = typed("pd_combine", (str,), "structured", "structured or monomial")
    metric = typed("metric", (str,), None, "a metric name")
    bound_text = table.get("bound")
    seed = typed("seed", (int,), 0, "an integer")
    samples = typed("samples", (int,), 1, "an integer >= 1")

    if outputs not in ("final", "all"):
        bad("outputs", f"expected final or all, got {outputs!r}")
    if pd_combine not in ("structured", "monomial"):
        bad("pd_combine", f"expected structured or monomial, got {pd_combine!r}")
    if samples < 1:
        bad("samples", f"expected an integer >= 1, got {samples}")
    if metric is None and "metric" not in table:
        bad("metric", f"missing (one of {', '.join(ALL_METRICS)})")
    elif metric is not None and metric not in ALL_METRICS:
        bad("metric", f"unknown metric {metric!r} (one of {', '.join(ALL_METRICS)})")
        metric = None
    kind = growth = None
    if bound_text is None:
        bad("bound", 'missing (for example bound = "O(log n)")')
    else:
        try:
            kind, growth = fitting.parse_bound(bound_text)
        except ValueError as error:
            bad("bound", str(error))
    n_values = _parse_n(table.get("n", DEFAULT_N), bad)
    expect = _parse_expect(table.get("expect"), bad)

    model = None
    ref = None
    if model_name is not None:
        items = tuple(sorted(params.items())) if isinstance(params, dict) else ()
        ref = ModelRef(model_name, free, state_dim, rank, items)
        model = models.get(ref)
        if model is None:
            try:
                model = ref.resolve()
                models[ref] = model
            except CircuitlabError as error:
                bad("model", str(error))
            except TypeError as error:  # unhashable params
                bad("params", f"invalid parameters: {error}")
    if model is not None:
        strategy = _check_strategy(model, strategy, outputs, metric, bad)
    if len(problems.items) > count:
        return None
    return Claim(
        index=number,
        model=ref,
        strategy=strategy,
        metric=metric,
        kind=kind,
        growth=growth,
        n_values=tuple(n_values),
        name=name,
        outputs=outputs,
        fold=fold,
        pd_combine=pd_combine,
        expect=expect,
        seed=seed,
        samples=samples,
    )


def _check_strategy(model, strategy, outputs, metric, bad) -> str | None:
    from circuitlab.compile import STRATEGIES, default_strategy

    if strategy is None:
        strategy = default_strategy(model)
    if strategy not in STRATEGIES:
        bad(
            "strategy",
            f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})",
        )
        return None
    problem = pair_problem(model, strategy, outputs)
    if problem:
        bad("strategy", f"{strategy} with model {model.name}: {problem}")
    if metric == "size_per_combine" and strategy == "chain":
        bad(
            "metric", "size_per_combine needs a combine strategy; chain has no combines"
        )
    return strategy


def _parse_n(value, bad) -> list[int]:
    if isinstance(value, list):
        wrong = [
            v for v in value if isinstance(v, bool) or not isinstance(v, int) or v < 1
        ]
        if wrong or not value:
            bad(
                "n",
                f"expected a non-empty list of integers >= 1, found {wrong or value!r}",
            )
            return []
        return sorted(set(value))
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return parse_n_values(value)
        except CircuitlabError as error:
            bad("n", str(error).replace("--n ", ""))
            return []
    bad(
        "n", f'expected a list of integers or a string such as "1..1024", got {value!r}'
    )
    return []


def _expect_locals() -> dict:
    from circuitlab.compile.schedules import ceil_log2, floor_log2

    return {
        "n": sympy.Symbol("n", integer=True, positive=True),
        "D": sympy.Symbol("D", integer=True, positive=True),
        "ceil_log2": ceil_log2,
        "floor_log2": floor_log2,
        "log2": lambda x: sympy.log(x, 2),
    }


def _parse_expect(value, bad) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not _EXPECT_CHARACTERS.match(value):
        bad("expect", f"expected an integer or an expression in n and D, got {value!r}")
        return None
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", value))
    unknown = names - set(_ALLOWED_EXPECT_NAMES)
    if unknown:
        bad(
            "expect",
            f"unknown name {', '.join(sorted(unknown))} in {value!r} "
            f"(allowed: {', '.join(_ALLOWED_EXPECT_NAMES)})",
        )
        return None
    try:
        sympy.sympify(value.replace("^", "**"), locals=_expect_locals())
    except (sympy.SympifyError, SyntaxError, TypeError) as error:
        bad("expect", f"cannot parse {value!r}: {error}")
        return None
    return value


def expected_value(expect: str, n: int, state_dim: int | None) -> Fraction:
    """Return the exact value of an ``expect`` expression at n and D = state_dim."""
    local = _expect_locals()
    expr = sympy.sympify(expect.replace("^", "**"), locals=local)
    substitution = {local["n"]: sympy.Integer(n)}
    if state_dim is not None:
        substitution[local["D"]] = sympy.Integer(state_dim)
    value = expr.xreplace(substitution).doit()
    if local["D"] in value.free_symbols:
        raise FormatError(
            f"expect = {expect!r} uses D, but the model has no state size; "
            "write the value without D"
        )
    if not value.is_Rational:
        raise FormatError(
            f"expect = {expect!r} is {value} at n = {n}, not an exact rational"
        )
    return Fraction(int(value.p), int(value.q))


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def claim_tasks(claims: Sequence[Claim]) -> tuple[list[SweepTask], dict[tuple, int]]:
    """Return the distinct sweep tasks of the claims and each task key's index."""
    metrics: dict[tuple, list[str]] = {}
    for claim in claims:
        for n in claim.n_values:
            requested = metrics.setdefault(claim.task_key(n), [])
            if claim.metric not in requested:
                requested.append(claim.metric)
    tasks = []
    index = {}
    for key, requested in metrics.items():
        model, strategy, n, outputs, fold, pd_combine, seed, samples = key
        index[key] = len(tasks)
        task = SweepTask(
            model,
            strategy,
            n,
            metrics=tuple(requested),
            outputs=outputs,
            fold=fold,
            pd_combine=pd_combine,
            seed=seed,
            samples=samples,
        )
        tasks.append(task)
    return tasks, index


FormulaProvider = Callable[[Claim], "tuple[sympy.Expr | None, str]"]


def family_formula(claim: Claim) -> tuple[sympy.Expr | None, str]:
    """Return the exact formula of the claim's metric, or None and the reason.

    Uses ``circuitlab.analysis.formulas.family_formulas`` when that module exists,
    and keeps its result per process for claims on the same circuits.
    """
    try:
        from circuitlab.analysis.formulas import family_formulas
    except ModuleNotFoundError as error:
        if error.name != "circuitlab.analysis.formulas":
            raise
        return None, "no formula module"
    except ImportError as error:
        logger.warning("formula module failed to import: %s", error)
        return None, f"formula module failed to import: {error}"
    key = (claim.model, claim.strategy, claim.outputs, claim.fold, claim.pd_combine)
    if key not in _FORMULA_CACHE:
        try:
            _FORMULA_CACHE[key] = family_formulas(
                claim.model.resolve(),
                claim.strategy,
                outputs=claim.outputs,
                fold=claim.fold,
                pd_combine=claim.pd_combine,
            )
        except CircuitlabError as error:
            _FORMULA_CACHE[key] = f"no formula: {error}"
    formulas = _FORMULA_CACHE[key]
    if isinstance(formulas, str):
        return None, formulas
    expr = formulas.get(claim.metric) if isinstance(formulas, dict) else None
    if expr is None:
        return None, f"no formula for {claim.metric}"
    return expr, ""


_FORMULA_CACHE: dict[tuple, object] = {}


def check_claims(
    claims: Sequence[Claim],
    *,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    formulas: FormulaProvider | None = family_formula,
) -> list[ClaimResult]:
    """Measure every claim's points and judge each claim.

    Parameters
    ----------
    claims : sequence of Claim
    jobs : int, optional
        Worker processes for the sweep and the judging (1: in this process).
    progress : callable, optional
        ``progress(phase, done, total)`` for the phases ``"sweep"`` and ``"judge"``.
    formulas : callable or None
        ``formulas(claim) -> (expr or None, note)``; None skips the formula path.
        With ``jobs > 1`` it must be a module-level function.
    """
    tasks, index = claim_tasks(claims)
    rows = run_sweep(tasks, jobs=jobs, progress=progress)
    # One work item per compiled family, so that each worker process derives the
    # family's formulas once for all of its claims.
    groups: dict[tuple, list] = {}
    for position, claim in enumerate(claims):
        points = [
            (n, rows[index[claim.task_key(n)]][claim.metric]) for n in claim.n_values
        ]
        state_dim = rows[index[claim.task_key(claim.n_values[0])]].get("state_dim")
        key = (claim.model, claim.strategy, claim.outputs, claim.fold, claim.pd_combine)
        item = (position, claim, points, state_dim, formulas)
        groups.setdefault(key, []).append(item)
    judged = parallel_map(
        _judge_batch,
        list(groups.values()),
        jobs=jobs,
        progress=progress,
        phase="judge",
        describe=lambda batch: f"claims {', '.join(str(i[1].index) for i in batch)}",
    )
    results: list[ClaimResult | None] = [None] * len(claims)
    for batch in judged:
        for position, result in batch:
            results[position] = result
    return results


def _judge_batch(batch) -> list[tuple[int, ClaimResult]]:
    return [
        (position, judge_claim(claim, points, state_dim=state_dim, formulas=formulas))
        for position, claim, points, state_dim, formulas in batch
    ]


# ---------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------


def judge_claim(
    claim: Claim,
    points: Sequence[tuple[int, object]],
    *,
    state_dim: int | None = None,
    formulas: FormulaProvider | None = family_formula,
) -> ClaimResult:
    """Judge one claim from its measured ``(n, value)`` points.

    The checks run in this order. A point that differs from ``expect`` fails the
    claim, and so does a point that differs from the exact formula. Too few points
    make it inconclusive. Otherwise the formula path decides when the metric has an
    exact formula, and the fitting path decides when it has none.
    """
    defined = [(int(n), v) for n, v in points if v is not None]
    undefined = [int(n) for n, v in points if v is None]
    evidence: dict = {"points": [[n, v] for n, v in defined]}
    if undefined:
        evidence["undefined_at"] = undefined
    if not defined:
        return ClaimResult(
            claim,
            "INCONCLUSIVE",
            f"{claim.metric} is undefined at every n",
            None,
            evidence,
        )

    if claim.expect is not None:
        wrong = _expect_mismatches(claim, defined, state_dim)
        evidence["expect"] = {"expression": claim.expect, "mismatches": wrong}
        if wrong:
            n, got, want = wrong[0]
            return ClaimResult(
                claim,
                "FAIL",
                f"{claim.metric} is {got} at n = {n} but expect = {claim.expect!r} gives {want} "
                f"({len(wrong)} of {len(defined)} points differ)",
                None,
                evidence,
            )

    ns = [n for n, _ in defined]
    shortage = fitting.enough_points(ns)
    expr, note = formulas(claim) if formulas is not None else (None, "formula path off")
    if expr is not None:
        result = _judge_formula(claim, expr, defined, shortage, evidence)
        if result is not None:
            return result
    elif note:
        evidence["formula"] = note
    if shortage:
        return ClaimResult(
            claim, "INCONCLUSIVE", f"too few points: {shortage}", None, evidence
        )
    return _judge_fit(claim, defined, evidence)


def _expect_mismatches(claim: Claim, defined, state_dim) -> list:
    wrong = []
    for n, value in defined:
        want = expected_value(claim.expect, n, state_dim)
        if isinstance(value, float):
            same = abs(value - float(want)) <= 1e-9 * max(1.0, abs(float(want)))
        else:
            same = Fraction(value) == want
        if not same:
            wrong.append([n, value, str(want)])
    return wrong


def _judge_formula(claim, expr, defined, shortage, evidence) -> ClaimResult | None:
    """Judge by the exact formula; None hands the claim to the fitting path."""
    record: dict = {"formula": str(expr)}
    evidence["formula"] = record
    wrong = []
    for n, value in defined:
        try:
            predicted = fitting.evaluate_at(expr, n)
        except CircuitlabError as error:
            record["evaluation_error"] = str(error)
            logger.info("claim %d: formula %s not usable: %s", claim.index, expr, error)
            return None
        if predicted != value:
            wrong.append([n, predicted, value])
    record["mismatches"] = wrong

    if wrong:
        n, predicted, value = wrong[0]
        reason = (
            f"the exact formula gives {predicted} at n = {n} but the circuit has "
            f"{claim.metric} {value} ({len(wrong)} of {len(defined)} points differ)"
        )
        return ClaimResult(claim, "FAIL", reason, "formula", evidence)
    if shortage:
        reason = (
            f"the exact formula matches all {len(defined)} points, but there are too "
            f"few points to trust it: {shortage}"
        )
        return ClaimResult(claim, "INCONCLUSIVE", reason, "formula", evidence)

    try:
        growth = fitting.formula_growth(expr)
    except GrowthError as error:
        record["growth_error"] = str(error)
        logger.info("claim %d: formula growth undecided: %s", claim.index, error)
        return None
    record.update(growth.as_dict())
    limits = _sequence_limits(growth, claim.growth)
    record["limits"] = {label: str(limit) for label, limit in limits.items()}

    satisfied = fitting.bound_satisfied(
        claim.kind, claim.growth, growth.lower, growth.upper
    )
    reason = (
        f"exact formula matches {len(defined)} points; grows like "
        f"{_rate_text(growth)} ({_limit_text(growth, limits, claim.growth)})"
    )
    if not satisfied:
        reason += f"; so not {claim.bound}"
    verdict = "PASS" if satisfied else "FAIL"
    return ClaimResult(claim, verdict, reason, "formula", evidence)


def _rate_text(growth: fitting.FormulaGrowth) -> str:
    if growth.lower == growth.upper:
        return growth.lower.label
    return f"between {growth.lower.label} and {growth.upper.label} (it oscillates)"


def _limit_text(growth: fitting.FormulaGrowth, limits: dict, claimed: Growth) -> str:
    if not limits:
        return growth.method
    if len(set(limits.values())) == 1:
        value = next(iter(limits.values()))
        return f"lim f/({claimed.label}) = {value} on n = {', '.join(limits)}"
    parts = [f"{value} on n = {label}" for label, value in limits.items()]
    return f"lim f/({claimed.label}) = {'; '.join(parts)}"


def _sequence_limits(growth: fitting.FormulaGrowth, claimed: Growth) -> dict:
    """Return ``lim f/g`` for the claimed class g on each identified sequence."""
    return {s.label: fitting.sequence_limit(s, claimed) for s in growth.sequences}


def _judge_fit(claim, defined, evidence) -> ClaimResult:
    ns = [n for n, _ in defined]
    values = [float(v) for _, v in defined]
    estimate = fitting.estimate_growth(ns, values)
    evidence["fit"] = estimate.as_dict()
    if estimate.lower is None:
        return ClaimResult(claim, "INCONCLUSIVE", estimate.reason, "fit", evidence)

    if estimate.lower == estimate.upper:
        satisfied = fitting.bound_satisfied(
            claim.kind, claim.growth, estimate.lower, estimate.upper
        )
        reason = f"grows like {estimate.lower.label}: {estimate.reason}"
        if not satisfied:
            reason += f"; so not {claim.bound}"
        verdict = "PASS" if satisfied else "FAIL"
        return ClaimResult(claim, verdict, reason, "fit", evidence)

    # Chains of doublings disagree: the metric oscillates, or noise misled one
    # chain. Only a verdict that every chain's rate gives is trusted.
    verdicts = {
        fitting.bound_satisfied(claim.kind, claim.growth, test.growth, test.growth)
        for test in estimate.ratios
    }
    if len(verdicts) == 1:
        satisfied = verdicts.pop()
        negation = "" if satisfied else "not "
        reason = f"{estimate.reason}; every rate is {negation}{claim.bound}"
        verdict = "PASS" if satisfied else "FAIL"
        return ClaimResult(claim, verdict, reason, "fit", evidence)
    reason = (
        f"{estimate.reason}; the claim holds for some of these rates and not for "
        "others, so the metric oscillates or is too noisy to decide"
    )
    return ClaimResult(claim, "INCONCLUSIVE", reason, "fit", evidence)


def summarize(results: Sequence[ClaimResult]) -> dict[str, int]:
    """Return the number of claims per verdict."""
    return {verdict: sum(r.verdict == verdict for r in results) for verdict in VERDICTS}
