"""Decide how fast a metric grows in n: from measured points or from an exact formula.

A growth rate is ``n^a log^b n`` with integers ``a, b >= 0`` (:class:`Growth`), or
:data:`ZERO` for a metric that is eventually 0. Growth rates are ordered
lexicographically by ``(a, b)``, which is their asymptotic order. The six rates a
claim may name are :data:`CLASSES`.

Two methods decide the growth rate, and docs/claims.md states their thresholds:

Numeric (:func:`estimate_growth`)
    A ratio test over the chains of doublings ``n, 2n, 4n, ...`` among the
    measured points, with a polynomial regression in ``log n`` as the fallback for
    irregular values. Least-squares fits ``m(n) ~ s*g(n) + c`` for every class
    ``g`` are reported, and they guard the decisions that offsets or noise can
    fool.
Exact (:func:`formula_growth`)
    An exact formula is evaluated at ``n = 2^k``, ``2^k + 1`` and ``3*2^(k-1)`` for
    large k. The formulas of circuitlab are built from ``n``, ``floor``,
    ``ceil_log2``, ``floor_log2``, ``bit_count``, ``Max``, bounded maxima and
    finite sums. On each of these sequences they are exponential polynomials
    ``sum c_aj 2^(a k) k^j`` in k once k is large, so the coefficients are solved
    exactly from samples and confirmed at 3 more (:data:`BASES`). The leading term
    gives the growth rate on that sequence, and :func:`sequence_limit` computes
    ``lim f(n_k)/g(n_k)`` from it. A formula that is not of that form falls back
    to a sympy limit of the formula with ``floor``, ``ceiling`` and the integer
    logarithms relaxed to real functions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy

from circuitlab.errors import CircuitlabError

__all__ = [
    "Growth",
    "ZERO",
    "CLASSES",
    "CLASS_BY_KEY",
    "BOUND_KINDS",
    "parse_bound",
    "bound_satisfied",
    "ClassFit",
    "RatioTest",
    "GrowthEstimate",
    "least_squares_fits",
    "doubling_chain",
    "doubling_chains",
    "enough_points",
    "ratio_test",
    "estimate_growth",
    "SequenceGrowth",
    "FormulaGrowth",
    "formula_growth",
    "sequence_limit",
    "evaluate_at",
    "GrowthError",
    "MIN_DOUBLINGS",
    "MIN_MAX_N",
    "WINDOW",
    "RATIO_THRESHOLDS",
    "SHRINK_STEPS",
    "SMALL_DIVISOR",
    "LSQ_MARGIN",
    "REGRESSION_LEVEL",
]

logger = logging.getLogger(__name__)

#: A numeric verdict needs a chain of at least this many doublings n -> 2n.
MIN_DOUBLINGS = 4
#: A numeric verdict needs a largest n of at least this value.
MIN_MAX_N = 64
#: The ratio test reads at most this many points at the top of the doubling chain.
WINDOW = 6
#: ``m(2n)/m(n)`` below 1.5 means power a = 0, below 3 a = 1, below 6 a = 2, else 3.
RATIO_THRESHOLDS = (1.5, 3.0, 6.0)
#: Differences over doublings shrink when each of their last (up to) this many
#: steps multiplies them by at most ``1 - 1/log2(N)``, N the top of the chain.
SHRINK_STEPS = 3
#: Differences are small when their last two values are at most
#: ``1 / (SMALL_DIVISOR * log2(N))`` of their reference value.
SMALL_DIVISOR = 4
#: A rate found with small order-1 differences is rejected when a neighbouring
#: class fits the points by least squares with a relative residual this many
#: times smaller.
LSQ_MARGIN = 2.0
#: Significance level of the F-tests of :func:`_regression_degree`, the fallback
#: for metrics whose differences are irregular (such as integer bit counts).
REGRESSION_LEVEL = 0.01
#: The largest power of log n the difference test can recognise.
MAX_LOG_POWER = 2


# ---------------------------------------------------------------------------
# Growth rates and bounds
# ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Growth:
    """A growth rate ``n^power * log2(n)^log_power``; ``power = -1`` is :data:`ZERO`."""

    power: int
    log_power: int = 0

    @property
    def label(self) -> str:
        if self.power < 0:
            return "0"
        parts = []
        if self.power == 1:
            parts.append("n")
        elif self.power > 1:
            parts.append(f"n^{self.power}")
        if self.log_power == 1:
            parts.append("log n")
        elif self.log_power > 1:
            parts.append(f"log^{self.log_power} n")
        return " ".join(parts) if parts else "1"

    def values(self, ns) -> np.ndarray:
        """Return ``g(n)`` as floats (``log2``; ``g = 0`` for :data:`ZERO`)."""
        ns = np.asarray(ns, dtype=float)
        if self.power < 0:
            return np.zeros_like(ns)
        return ns**self.power * np.log2(ns) ** self.log_power

    def __str__(self) -> str:
        return self.label


ZERO = Growth(-1, 0)

#: The growth classes a claim may name, in increasing order.
CLASSES = (
    Growth(0, 0),
    Growth(0, 1),
    Growth(0, 2),
    Growth(1, 0),
    Growth(1, 1),
    Growth(2, 0),
)
CLASS_BY_KEY = {growth.label.replace(" ", ""): growth for growth in CLASSES}

#: Bound kinds: Theta (tight), O (upper) and Omega (lower), with accepted spellings.
BOUND_KINDS = {"Theta": "Theta", "Θ": "Theta", "O": "O", "Omega": "Omega", "Ω": "Omega"}


def parse_bound(text: object) -> tuple[str, Growth]:
    """Parse ``"Theta(n log n)"`` into ``("Theta", Growth(1, 1))``.

    Raises
    ------
    ValueError
        With a message that lists the accepted kinds and classes.
    """
    classes = ", ".join(growth.label for growth in CLASSES)
    expected = (
        f"expected KIND(CLASS) with KIND Theta, O or Omega and CLASS one of {classes}"
    )
    if not isinstance(text, str):
        raise ValueError(f"{expected}, got {text!r}")
    compact = "".join(text.split())
    if "(" not in compact or not compact.endswith(")"):
        raise ValueError(f"{expected}, got {text!r}")
    kind_text, inner = compact[:-1].split("(", 1)
    kind = BOUND_KINDS.get(kind_text)
    if kind is None:
        raise ValueError(f"unknown bound kind {kind_text!r} in {text!r}; {expected}")
    growth = CLASS_BY_KEY.get(inner.replace("(n)", "n"))
    if growth is None:
        raise ValueError(f"unknown class {inner!r} in {text!r}; {expected}")
    return kind, growth


def bound_satisfied(kind: str, claimed: Growth, lower: Growth, upper: Growth) -> bool:
    """Return whether a metric growing between ``lower`` and ``upper`` meets the bound.

    ``lower`` and ``upper`` are the smallest and largest growth rates seen (equal
    unless the metric oscillates between rates).
    """
    if kind == "Theta":
        return lower == upper == claimed
    if kind == "O":
        return upper <= claimed
    return lower >= claimed


# ---------------------------------------------------------------------------
# Numeric path: least squares and the ratio test
# ---------------------------------------------------------------------------


@dataclass
class ClassFit:
    """Least-squares fit ``m(n) ~ slope * g(n) + intercept`` for one growth class."""

    growth: Growth
    slope: float
    intercept: float
    rms: float
    relative_rms: float

    def as_dict(self) -> dict:
        return {
            "class": self.growth.label,
            "slope": self.slope,
            "intercept": self.intercept,
            "rms_residual": self.rms,
            "relative_rms_residual": self.relative_rms,
        }


def _fit_one(growth: Growth, ns: np.ndarray, values: np.ndarray) -> ClassFit:
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if growth.power == 0 and growth.log_power == 0:
        intercept = float(values.mean())
        slope = 0.0
        predicted = np.full_like(values, intercept)
    else:
        g = growth.values(ns)
        design = np.stack([g, np.ones_like(g)], axis=1)
        (slope, intercept), *_ = np.linalg.lstsq(design, values, rcond=None)
        slope, intercept = float(slope), float(intercept)
        predicted = slope * g + intercept
    rms = float(np.sqrt(np.mean((values - predicted) ** 2)))
    relative = rms / scale if scale > 0 else 0.0
    return ClassFit(growth, slope, intercept, rms, relative)


def least_squares_fits(ns, values, classes=CLASSES) -> list[ClassFit]:
    """Fit ``slope * g(n) + intercept`` for every class ``g`` by least squares.

    The residual is the root mean square over all points; the relative residual
    divides it by the largest ``|m(n)|``. ``g = 1`` fits the mean (slope 0).
    """
    ns = np.asarray(ns, dtype=float)
    values = np.asarray(values, dtype=float)
    return [_fit_one(growth, ns, values) for growth in classes]


def doubling_chains(ns) -> list[list[int]]:
    """Return the maximal chains ``n0, 2*n0, 4*n0, ...`` of values in ``ns``.

    Longest chains come first, and among chains of equal length the one with the
    largest top. A chain of one value is included.
    """
    present = set(int(n) for n in ns)
    chains = []
    for start in sorted(present):
        if start % 2 == 0 and start // 2 in present:
            continue  # Not the bottom of its chain.
        chain = [start]
        while chain[-1] * 2 in present:
            chain.append(chain[-1] * 2)
        chains.append(chain)
    chains.sort(key=lambda chain: (len(chain), chain[-1]), reverse=True)
    return chains


def doubling_chain(ns) -> list[int]:
    """Return the longest chain of doublings in ``ns`` (see :func:`doubling_chains`)."""
    chains = doubling_chains(ns)
    return chains[0] if chains else []


def _vanishes(
    differences: list[float],
    previous: list[float],
    order: int,
    scale: float,
    top_n: int,
) -> str | None:
    """Return the rule by which order-``order`` differences over doublings vanish.

    ``"shrink"``: each of the last (up to) :data:`SHRINK_STEPS` steps multiplies
    their size by at most ``1 - 1/log2(top_n)``, or they are 0. This is true for
    geometric decay and for terms such as ``c/log n`` that settle slowly, but
    not for the constant differences of one more power of log n.

    ``"small"``: their last two values are at most ``1 / (4 log2(top_n))`` of a
    reference, the largest normalised value ``scale`` for order 1 and the last
    difference of the order below otherwise. One more power of log n would give
    them about ``1 / log2(top_n)`` of it, four times more, while sampling noise
    such as that of random-input precision stays below.

    Returns ``""`` when neither rule applies and None with fewer than two values.
    """
    if len(differences) < 2:
        return None
    log_top = math.log2(max(top_n, 2))
    factor = 1 - 1 / log_top
    tiny = 1e-12 * max(1.0, scale)
    last = [abs(x) for x in differences[-(SHRINK_STEPS + 1) :]]
    if all(last[t + 1] <= factor * last[t] + tiny for t in range(len(last) - 1)):
        return "shrink"
    reference = scale if order == 1 else abs(previous[-1])
    if max(last[-2:]) <= reference / (SMALL_DIVISOR * log_top):
        return "small"
    return ""


def _power_of(ratio: float) -> int:
    for power, threshold in enumerate(RATIO_THRESHOLDS):
        if ratio < threshold:
            return power
    return len(RATIO_THRESHOLDS)


@dataclass
class RatioTest:
    """The ratio test on the top of the doubling chain.

    ``ratios`` are ``m(2n)/m(n)`` over the window. The power a of n comes from the
    last two ratios (:data:`RATIO_THRESHOLDS`). Then ``q(n) = m(n)/n^a`` and its
    differences over doublings of order 1, 2, 3 are taken. The power b of log n is
    the smallest d whose order-(d+1) differences vanish; ``rule`` records how
    (``"constant"``, ``"shrink"`` or ``"small"``, see :func:`_vanishes`).
    """

    chain: list[int]
    window: list[int]
    values: list[float]
    ratios: list[float] = field(default_factory=list)
    power: int | None = None
    log_power: int | None = None
    differences: dict[int, list[float]] = field(default_factory=dict)
    growth: Growth | None = None
    rule: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "chain": f"n = {self.chain[0]}*2^j, j = 0..{len(self.chain) - 1}",
            "window": self.window,
            "values": self.values,
            "ratios": self.ratios,
            "power_of_n": self.power,
            "power_of_log_n": self.log_power,
            "differences": {str(order): d for order, d in self.differences.items()},
            "growth": self.growth.label if self.growth is not None else None,
            "rule": self.rule,
            "reason": self.reason,
        }


def ratio_test(ns, values, chain: Sequence[int] | None = None) -> RatioTest:
    """Run the ratio test on a doubling chain of the points (default: the longest)."""
    by_n = {int(n): float(v) for n, v in zip(ns, values, strict=True)}
    chain = doubling_chain(by_n) if chain is None else list(chain)
    window = chain[-WINDOW:]
    test = RatioTest(chain=chain, window=window, values=[by_n[n] for n in window])
    m = test.values

    if len(window) < 3:
        test.reason = "fewer than 3 points in a chain of doublings"
        return test
    if all(v == m[-1] for v in m):
        test.power, test.log_power = (-1, 0) if m[-1] == 0 else (0, 0)
        test.growth = ZERO if m[-1] == 0 else CLASSES[0]
        test.rule = "constant"
        test.reason = f"m(n) = {m[-1]:g} at n = {window[0]}..{window[-1]}"
        return test
    if any(v <= 0 for v in m):
        test.reason = (
            "the metric is not positive on the window, so ratios are undefined"
        )
        return test

    test.ratios = [m[i + 1] / m[i] for i in range(len(m) - 1)]
    powers = [_power_of(r) for r in test.ratios[-2:]]
    if powers[0] != powers[1]:
        thresholds = ", ".join(f"{t:g}" for t in RATIO_THRESHOLDS)
        test.reason = (
            f"the last two ratios m(2n)/m(n) = {test.ratios[-2]:.3f}, "
            f"{test.ratios[-1]:.3f} fall in different bands (thresholds {thresholds}); "
            "use larger n"
        )
        return test
    power = test.power = powers[1]

    q = [v / n**power for n, v in zip(window, m, strict=True)]
    scale = max(abs(x) for x in q)
    sequence = q
    for order in range(1, MAX_LOG_POWER + 2):
        previous = sequence
        sequence = [sequence[i + 1] - sequence[i] for i in range(len(sequence) - 1)]
        test.differences[order] = sequence
        rule = _vanishes(sequence, previous, order, scale, window[-1])
        if rule is None:
            test.reason = (
                f"too few doublings to tell log^{order - 1} n from log^{order} n "
                f"(order-{order} differences of m(n)/n^{power} need 2 values)"
            )
            return test
        if rule:
            test.log_power = order - 1
            test.growth = Growth(power, order - 1)
            test.rule = rule
            test.reason = _ratio_reason(test)
            return test
    # The regression reads the whole chain: more points give the F-tests power.
    chain_q = [by_n[n] / n**power for n in chain]
    degree = _regression_degree([math.log2(n) for n in chain], chain_q)
    if degree is not None:
        test.log_power = degree
        test.growth = Growth(power, degree)
        test.rule = "regression"
        normaliser = {0: "m(n)", 1: "m(n)/n"}.get(power, f"m(n)/n^{power}")
        test.reason = (
            f"m(2n)/m(n) = {', '.join(f'{r:.3g}' for r in test.ratios[-2:])} and a "
            f"polynomial of degree {degree} in log n fits {normaliser} (F-test at "
            f"{REGRESSION_LEVEL:g}); its differences over doublings are irregular"
        )
        return test
    test.reason = (
        f"no difference order up to {MAX_LOG_POWER + 1} of m(n)/n^{power} vanishes "
        f"and no polynomial of degree <= {MAX_LOG_POWER} in log n fits it; the metric "
        f"is irregular or grows like a power of log n above {MAX_LOG_POWER}"
    )
    return test


def _regression_degree(ks: list[float], q: list[float]) -> int | None:
    """Return the polynomial degree in k that ``q`` needs, by nested F-tests.

    Degree d + 1 is needed when it lowers the residual sum of squares
    significantly at level :data:`REGRESSION_LEVEL`. Returns the first degree
    (at most :data:`MAX_LOG_POWER`) that the next one does not improve, or None.
    """
    from scipy.stats import f as f_distribution

    ks_array = np.asarray(ks, dtype=float)
    values = np.asarray(q, dtype=float)
    points = len(values)
    scale = max(1.0, float(np.max(np.abs(values))))

    def residual(degree: int) -> float:
        design = np.vander(ks_array, degree + 1)
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        return float(np.sum((values - design @ coefficients) ** 2))

    for degree in range(MAX_LOG_POWER + 1):
        larger = degree + 1
        free = points - (larger + 1)
        if free < 1:
            return None
        before, after = residual(degree), residual(larger)
        if before <= 1e-18 * scale**2 * points:
            return degree  # Already exact: nothing left to explain.
        if after <= 1e-18 * scale**2 * points:
            continue  # The larger degree is exact, so it is needed.
        statistic = (before - after) / (after / free)
        if statistic < f_distribution.ppf(1 - REGRESSION_LEVEL, 1, free):
            return degree
    return None


def _ratio_reason(test: RatioTest) -> str:
    ratios = ", ".join(f"{r:.3g}" for r in test.ratios[-2:])
    normaliser = {0: "m(n)", 1: "m(n)/n"}.get(test.power, f"m(n)/n^{test.power}")
    return (
        f"m(2n)/m(n) = {ratios} and the order-{test.log_power + 1} differences of "
        f"{normaliser} over doublings vanish"
    )


@dataclass
class GrowthEstimate:
    """Result of :func:`estimate_growth`.

    ``lower`` and ``upper`` are the smallest and largest rates over the doubling
    chains tested (equal unless the metric oscillates), or None with ``reason``
    saying why no rate was decided.
    """

    lower: Growth | None
    upper: Growth | None
    reason: str
    points: int
    doublings: int
    max_n: int
    ratios: list[RatioTest] = field(default_factory=list)
    ignored_chains: list[RatioTest] = field(default_factory=list)
    fits: list[ClassFit] = field(default_factory=list)

    @property
    def growth(self) -> Growth | None:
        """The rate when every chain agrees, else None."""
        return self.lower if self.lower == self.upper else None

    def as_dict(self) -> dict:
        return {
            "lower": self.lower.label if self.lower is not None else None,
            "upper": self.upper.label if self.upper is not None else None,
            "reason": self.reason,
            "points": self.points,
            "doublings": self.doublings,
            "max_n": self.max_n,
            "ratio_tests": [test.as_dict() for test in self.ratios],
            "undecided_chains": [test.as_dict() for test in self.ignored_chains],
            "fits": [fit.as_dict() for fit in self.fits],
        }


def _chain_shortage(chain: Sequence[int]) -> str | None:
    doublings = max(len(chain) - 1, 0)
    if doublings < MIN_DOUBLINGS:
        noun = "doubling" if doublings == 1 else "doublings"
        return (
            f"only {doublings} {noun} n -> 2n among the n values (at least "
            f"{MIN_DOUBLINGS} are needed); use a range such as 1..1024"
        )
    if chain[-1] < MIN_MAX_N:
        return (
            f"the longest chain of doublings ends at n = {chain[-1]}, below the "
            f"minimum {MIN_MAX_N}; use larger n"
        )
    return None


def enough_points(ns) -> str | None:
    """Return why the n values are too few to decide a growth rate, or None.

    The longest chain of doublings needs :data:`MIN_DOUBLINGS` doublings and a top
    of at least :data:`MIN_MAX_N`.
    """
    return _chain_shortage(doubling_chain(ns))


def estimate_growth(ns, values) -> GrowthEstimate:
    """Estimate the growth rate of a metric from its values at the given n.

    :func:`ratio_test` runs on every doubling chain that is long enough
    (:func:`enough_points`), for example on 1, 2, 4, ... and on 3, 6, 12, ... for
    a range ``1..B``. The longest chain must give a rate. Another chain that gives
    none is listed in ``ignored_chains``. The rates found give ``lower`` and
    ``upper``. When the chains
    agree but one of them found its log power from small order-1 differences
    (which a large constant offset also produces, as in ``log n + 40``), the
    least-squares fit of that rate must not be worse than :data:`LSQ_MARGIN` times
    the fit of the next smaller or next larger class of :data:`CLASSES`. Too few
    points, an undecided chain or a failed fit leave the estimate at None with the
    reason.
    """
    ns = [int(n) for n in ns]
    chains = doubling_chains(ns)
    primary = chains[0] if chains else []
    estimate = GrowthEstimate(
        lower=None,
        upper=None,
        reason="",
        points=len(set(ns)),
        doublings=max(len(primary) - 1, 0),
        max_n=max(ns) if ns else 0,
    )
    shortage = _chain_shortage(primary) if primary else "no points"
    if shortage:
        estimate.reason = shortage
        return estimate
    estimate.fits = least_squares_fits(ns, values)
    usable = [chain for chain in chains if _chain_shortage(chain) is None]
    for chain in usable:
        test = ratio_test(ns, values, chain)
        if test.growth is None and not estimate.ratios:
            estimate.ratios.append(test)
            estimate.reason = (
                f"ratio test undecided on n = {chain[0]}*2^j: {test.reason}"
            )
            return estimate
        if test.growth is None:
            estimate.ignored_chains.append(test)
        else:
            estimate.ratios.append(test)
    rates = [test.growth for test in estimate.ratios]
    estimate.lower, estimate.upper = min(rates), max(rates)
    first = estimate.ratios[0]
    if estimate.lower != estimate.upper:
        parts = [
            f"{test.growth.label} on n = {test.chain[0]}*2^j"
            for test in estimate.ratios
        ]
        estimate.reason = (
            f"the rate differs between chains of doublings: {', '.join(parts)}"
        )
        return estimate
    if first.growth == ZERO:
        estimate.reason = first.reason
        return estimate
    offset_prone = any(
        (t.rule == "small" and t.log_power == 0) or t.rule == "regression"
        for t in estimate.ratios
    )
    conflict = offset_prone and _least_squares_conflict(
        first.growth, ns, values, estimate.fits
    )
    if conflict:
        estimate.lower = estimate.upper = None
        estimate.reason = (
            f"ratio test gives {first.growth.label} ({first.reason}), but {conflict}"
        )
        return estimate
    estimate.reason = first.reason
    return estimate


def _least_squares_conflict(
    growth: Growth, ns, values, fits: list[ClassFit]
) -> str | None:
    own = _fit_one(growth, np.asarray(ns, float), np.asarray(values, float))
    below = [fit for fit in fits if fit.growth < growth]
    above = [fit for fit in fits if fit.growth > growth]
    neighbours = []
    if below:
        neighbours.append(below[-1])
    if above:
        neighbours.append(above[0])
    for other in neighbours:
        if own.relative_rms > LSQ_MARGIN * other.relative_rms + 1e-12:
            return (
                f"least squares fits {other.growth.label} much better (relative residual "
                f"{other.relative_rms:.3g} against {own.relative_rms:.3g})"
            )
    return None


# ---------------------------------------------------------------------------
# Exact path: formulas on the sequences n = c*2^k + d
# ---------------------------------------------------------------------------

#: Sequences ``n_k = c*2^k + d`` on which a formula is identified: (label, c, d).
SEQUENCES = (
    ("2^k", Fraction(1), 0),
    ("2^k + 1", Fraction(1), 1),
    ("3*2^(k-1)", Fraction(3, 2), 0),
)
#: Identification bases, tried in order: pairs (a, j) of the terms ``2^(a k) k^j``.
#: Small bases first, because every sample of a large formula is slow to evaluate:
#: polylogarithmic depths need 3 terms, the usual sizes 6.
BASES = (
    tuple((0, j) for j in (0, 1, 2)),
    tuple((a, j) for a in (0, 1) for j in (0, 1, 2)),
    tuple((a, j) for a in (0, 1, 2) for j in (0, 1, 2, 3)),
)
#: The first sample is k = FIRST_K (n >= 256), past the small-n special cases of
#: the formulas; a basis of m terms uses k = FIRST_K .. FIRST_K + m - 1.
FIRST_K = 8
#: Further samples, after the last one used for solving, that must match exactly:
#: the next two k and one k further away.
# NOTE: a formula whose regime changes after the last check (k = 18 for the first
# basis) is misread; farther checks would cost much more on large depth formulas.
CHECK_OFFSETS = (0, 1, 6)

_K = sympy.Symbol("k", positive=True, integer=True)


class GrowthError(CircuitlabError):
    """A formula's growth rate cannot be decided by the exact method."""


@dataclass
class SequenceGrowth:
    """A formula identified on one sequence ``n_k = c*2^k + d``.

    ``coefficients`` maps ``(a, j)`` to the exact coefficient of ``2^(a*k) * k^j``.
    """

    label: str
    scale: Fraction
    offset: int
    coefficients: dict[tuple[int, int], Fraction]
    growth: Growth
    leading: Fraction

    def expression(self) -> sympy.Expr:
        """Return the identified exponential polynomial in the symbol k."""
        terms = [
            sympy.Rational(c.numerator, c.denominator) * 2 ** (a * _K) * _K**j
            for (a, j), c in sorted(self.coefficients.items())
        ]
        return sympy.Add(*terms)

    def n_expression(self) -> sympy.Expr:
        scale = sympy.Rational(self.scale.numerator, self.scale.denominator)
        return scale * 2**_K + self.offset

    def as_dict(self) -> dict:
        return {
            "sequence": f"n = {self.label}",
            "formula_in_k": str(self.expression()),
            "growth": self.growth.label,
        }


@dataclass
class FormulaGrowth:
    """Growth rate of an exact formula: the smallest and largest over the sequences."""

    lower: Growth
    upper: Growth
    method: str
    sequences: list[SequenceGrowth] = field(default_factory=list)
    relaxed: sympy.Expr | None = None

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "lower": self.lower.label,
            "upper": self.upper.label,
            "sequences": [s.as_dict() for s in self.sequences],
            "relaxed_formula": str(self.relaxed) if self.relaxed is not None else None,
        }


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Solve a square system exactly by Gauss-Jordan elimination."""
    size = len(rhs)
    rows = [list(row) + [value] for row, value in zip(matrix, rhs, strict=True)]
    for column in range(size):
        pivot = next((r for r in range(column, size) if rows[r][column] != 0), None)
        if pivot is None:
            raise GrowthError("singular identification system")
        rows[column], rows[pivot] = rows[pivot], rows[column]
        head = rows[column][column]
        rows[column] = [x / head for x in rows[column]]
        for r in range(size):
            if r != column and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [
                    x - factor * y for x, y in zip(rows[r], rows[column], strict=True)
                ]
    return [row[-1] for row in rows]


def _sequence_n(scale: Fraction, offset: int, k: int) -> int:
    value = scale * 2**k + offset
    return int(value)


def _identify(
    expr: sympy.Expr, label: str, scale: Fraction, offset: int
) -> SequenceGrowth:
    values: dict[int, Fraction] = {}

    def value(k: int) -> Fraction:
        if k not in values:
            try:
                values[k] = Fraction(evaluate_at(expr, _sequence_n(scale, offset, k)))
            except CircuitlabError as error:
                raise GrowthError(
                    f"cannot evaluate {expr} at n = {label}, k = {k}: {error}"
                ) from None
        return values[k]

    for basis in BASES:
        solution = _solve_on_basis(basis, value)
        if solution is not None:
            break
    else:
        raise GrowthError(
            f"{expr} is not a sum of terms 2^(a k) k^j (a <= 2, j <= 3) on n = {label}"
        )
    coefficients = {key: c for key, c in zip(basis, solution, strict=True) if c != 0}
    if not coefficients:
        return SequenceGrowth(label, scale, offset, {}, ZERO, Fraction(0))
    top = max(coefficients)
    leading = coefficients[top]
    if leading < 0:
        raise GrowthError(f"{expr} is eventually negative on n = {label}")
    return SequenceGrowth(label, scale, offset, coefficients, Growth(*top), leading)


def _solve_on_basis(basis, value) -> list[Fraction] | None:
    """Return the exact coefficients on ``basis``, or None if a check sample differs."""

    def row(k: int) -> list[Fraction]:
        return [Fraction(2 ** (a * k) * k**j) for a, j in basis]

    ks = list(range(FIRST_K, FIRST_K + len(basis)))
    solution = _solve_exact([row(k) for k in ks], [value(k) for k in ks])
    for step in CHECK_OFFSETS:
        k = ks[-1] + 1 + step
        predicted = sum(
            (c * x for c, x in zip(solution, row(k), strict=True)), Fraction(0)
        )
        if predicted != value(k):
            return None
    return solution


def evaluate_at(expr: sympy.Expr, n: int) -> int:
    """Evaluate an integer formula in ``n`` exactly.

    Uses ``circuitlab.analysis.formulas.evaluate_exact`` (which also evaluates its
    ``max_over``) when that module exists and the formula's symbol is its ``n``,
    else :func:`circuitlab.compile.schedules.evaluate_formula`.

    Raises
    ------
    CompileError
        If the formula is undefined or not an integer at ``n``.
    """
    from circuitlab.compile.schedules import evaluate_formula

    try:
        from circuitlab.analysis.formulas import evaluate_exact
    except ImportError:
        return evaluate_formula(expr, n)
    try:
        return evaluate_exact(expr, n)
    except KeyError:  # the formula's n is another Symbol than N_SYMBOL
        return evaluate_formula(expr, n)


def _relax(expr: sympy.Expr) -> sympy.Expr:
    """Replace the integer functions by real ones and pick the last Piecewise branch."""
    from circuitlab.compile.schedules import bit_count, ceil_log2, floor_log2

    def last_piece(piecewise: sympy.Piecewise) -> sympy.Expr:
        return piecewise.args[-1][0]

    relaxed = expr.replace(lambda node: isinstance(node, sympy.Piecewise), last_piece)
    relaxed = relaxed.replace(ceil_log2, lambda x: sympy.log(x, 2))
    relaxed = relaxed.replace(floor_log2, lambda x: sympy.log(x, 2))
    relaxed = relaxed.replace(sympy.floor, lambda x: x)
    relaxed = relaxed.replace(sympy.ceiling, lambda x: x)
    if relaxed.has(bit_count, sympy.Mod):
        raise GrowthError(f"{expr} has bit_count or Mod, which have no real relaxation")
    relaxed = relaxed.doit()
    if relaxed.has(sympy.Sum):
        raise GrowthError(f"{expr} has a sum with no closed form")
    known = {"log", "Max", "Min"}
    foreign = sorted({type(f).__name__ for f in relaxed.atoms(sympy.Function)} - known)
    if foreign:
        raise GrowthError(
            f"{expr} has {', '.join(foreign)}, which have no real relaxation"
        )
    return relaxed


def _n_symbol(expr: sympy.Expr) -> sympy.Symbol:
    symbols = [s for s in expr.free_symbols if s.name == "n"]
    others = [s.name for s in expr.free_symbols if s.name != "n"]
    if others:
        raise GrowthError(
            f"{expr} has free symbols {', '.join(sorted(others))}; only n is allowed"
        )
    return symbols[0] if symbols else sympy.Symbol("n", positive=True, integer=True)


def _relaxed_growth(expr: sympy.Expr) -> FormulaGrowth:
    relaxed = _relax(expr)
    n = _n_symbol(relaxed)
    real_n = sympy.Symbol("n", positive=True)
    relaxed = relaxed.xreplace({n: real_n})
    zero_limit = sympy.limit(relaxed, real_n, sympy.oo)
    if zero_limit == 0:
        return FormulaGrowth(ZERO, ZERO, "relaxed limit", relaxed=relaxed)
    candidates = [Growth(a, b) for a in range(4) for b in range(4)]
    for growth in candidates:
        g = real_n**growth.power * sympy.log(real_n, 2) ** growth.log_power
        limit = sympy.limit(relaxed / g, real_n, sympy.oo)
        if limit.is_finite and limit != 0:
            if limit < 0:
                raise GrowthError(f"{expr} is eventually negative")
            return FormulaGrowth(growth, growth, "relaxed limit", relaxed=relaxed)
    raise GrowthError(f"{expr} grows like no n^a log^b n with a, b <= 3")


@lru_cache(maxsize=256)
def _formula_growth_cached(expr: sympy.Expr) -> FormulaGrowth:
    try:
        sequences = [_identify(expr, label, c, d) for label, c, d in SEQUENCES]
    except GrowthError as error:
        logger.info("exact identification failed (%s); trying the relaxed limit", error)
        return _relaxed_growth(expr)
    rates = [s.growth for s in sequences]
    return FormulaGrowth(min(rates), max(rates), "exact on sequences", sequences)


def formula_growth(expr: sympy.Expr) -> FormulaGrowth:
    """Return the growth rate of an exact formula in ``n`` (see the module docstring).

    Raises
    ------
    GrowthError
        If neither the exact identification nor the relaxed limit decides it.
    """
    _n_symbol(expr)
    return _formula_growth_cached(expr)


def sequence_limit(sequence: SequenceGrowth, growth: Growth) -> sympy.Expr:
    """Return ``lim_{k->oo} f(n_k) / g(n_k)`` exactly, from the leading term.

    With ``f(n_k) = c 2^(a k) k^j + (smaller terms)``, ``n_k = s 2^k + d`` and
    ``g(n) = n^A log2(n)^B``, the ratio tends to 0 when ``(a, j) < (A, B)``, to
    oo when ``(a, j) > (A, B)``, and to ``c / s^A`` when they are equal, because
    ``log2(n_k) / k`` and ``n_k / (s 2^k)`` tend to 1.
    """
    if growth == ZERO:
        raise GrowthError("no limit against the zero rate")
    if sequence.growth < growth:
        return sympy.Integer(0)
    if sequence.growth > growth:
        return sympy.oo
    value = sequence.leading / sequence.scale**growth.power
    return sympy.Rational(value.numerator, value.denominator)


def relative_order(growth: Growth, claimed: Growth) -> int:
    """Return -1, 0 or 1 as ``growth`` is smaller than, equal to or larger than ``claimed``."""
    return (growth > claimed) - (growth < claimed)


def format_number(value: float) -> str:
    """Format a fitted constant compactly."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"
