"""Batches of affine maps ``h -> h A + b`` in structured forms, as circuit gates.

Row-vector convention: a state is a row vector ``h`` and one step is
``h -> h A + b``. Composition "first (A1, b1), then (A2, b2)" is
``(A1 A2, b1 A2 + b2)``, which is associative; :func:`combine` emits it.

Forms (every array has a leading batch axis of length m, entries are node ids):

``diag``   ``d (m, D)``: ``A = diag(d)``.
``pd``     ``p (m, D, D)`` a 0/1 permutation matrix and ``d (m, D)``: ``A = P diag(d)``.
           ``P[i, j] = 1`` moves coordinate i of the state to coordinate j.
``dplr``   ``d (m, D)``, ``u (m, D, r)``, ``v (m, D, r)``: ``A = diag(d) + u v^T``.
``dense``  ``a (m, D, D)``.

Every form also has ``b (m, D)``. Products of diagonal maps are diagonal and
products of PD maps are PD, so those forms are closed under :func:`combine`. A
product of two DPLR maps of ranks r1 and r2 is DPLR of rank r1 + r2; once that rank
reaches D the result is stored dense, because a dense map is then no larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuitlab.errors import CompileError

__all__ = ["AffineMaps", "combine", "apply", "to_dense", "PD_COMBINES"]

#: How a PD combine composes: "structured" keeps (P, d) and composes the 0/1
#: permutation matrices with AND/OR gates; "monomial" multiplies the monomial
#: matrices P diag(d) like dense matrices. compile_model converts each step map
#: once for "monomial", so every combine then costs exactly a dense combine.
PD_COMBINES = ("structured", "monomial")


@dataclass
class AffineMaps:
    """A batch of affine maps in one form; see the module docstring for the forms."""

    form: str
    parts: dict

    @property
    def count(self) -> int:
        return int(self.parts["b"].shape[0])

    @property
    def state_dim(self) -> int:
        return int(self.parts["b"].shape[1])

    @property
    def rank(self) -> int:
        return int(self.parts["u"].shape[2]) if self.form == "dplr" else 0

    @property
    def key(self) -> tuple:
        """Hashable description of the form, e.g. ``("dplr", 2)``."""
        return (self.form, self.rank) if self.form == "dplr" else (self.form,)

    def take(self, index) -> AffineMaps:
        """Return the maps at positions ``index`` of the batch axis."""
        return AffineMaps(self.form, {k: v[index] for k, v in self.parts.items()})


def _select(c, v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Append ``v P`` for a 0/1 permutation matrix P: ``(v P)[k] = sum_j v[j] P[j, k]``."""
    return c.vecmat(v, p)


def to_dense(c, maps: AffineMaps) -> AffineMaps:
    """Convert maps of any form to the dense form (emitting the needed gates)."""
    parts = maps.parts
    m, dim = parts["b"].shape
    if maps.form == "dense":
        return maps
    zero = c.const(0)
    if maps.form == "diag":
        a = np.full((m, dim, dim), zero, dtype=np.int64)
        a[:, np.arange(dim), np.arange(dim)] = parts["d"]
    elif maps.form == "pd":
        a = c.mul(parts["p"], parts["d"][:, None, :])
    elif maps.form == "dplr":
        low_rank = c.matmul(parts["u"], np.swapaxes(parts["v"], 1, 2))
        diagonal = np.full((m, dim, dim), zero, dtype=np.int64)
        diagonal[:, np.arange(dim), np.arange(dim)] = parts["d"]
        a = c.add(diagonal, low_rank)
    else:
        raise CompileError(f"unknown affine form {maps.form!r}")
    return AffineMaps("dense", {"a": a, "b": parts["b"]})


def combine(c, first: AffineMaps, second: AffineMaps, pd_combine: str = "structured"):
    """Append the composition "first, then second" for each pair in the two batches.

    Returns ``(A1 A2, b1 A2 + b2)`` in the cheapest closed form: diag with diag
    stays diag, PD with PD stays PD, DPLR ranks add up until they reach D, and
    anything combined with a dense map is dense.
    """
    if first.count != second.count:
        raise CompileError("combine needs batches of equal length")
    forms = (first.form, second.form)
    if forms == ("diag", "diag"):
        return _combine_diag(c, first.parts, second.parts)
    if forms == ("pd", "pd"):
        if pd_combine == "monomial":
            return _combine_dense(
                c, to_dense(c, first).parts, to_dense(c, second).parts
            )
        return _combine_pd(c, first.parts, second.parts)
    if forms == ("dplr", "dplr") and first.rank + second.rank < first.state_dim:
        return _combine_dplr(c, first.parts, second.parts)
    if "dense" in forms or forms == ("dplr", "dplr"):
        return _combine_dense(c, to_dense(c, first).parts, to_dense(c, second).parts)
    raise CompileError(f"cannot combine maps of forms {forms[0]} and {forms[1]}")


def _combine_diag(c, p1: dict, p2: dict) -> AffineMaps:
    d = c.mul(p1["d"], p2["d"])
    b = c.add(c.mul(p1["b"], p2["d"]), p2["b"])
    return AffineMaps("diag", {"d": d, "b": b})


def _combine_pd(c, p1: dict, p2: dict) -> AffineMaps:
    if p1["d"].shape[1] == 1:
        # The only permutation of one coordinate is the identity, so for valid
        # inputs the diagonal and bias need no moving: the combine is diagonal.
        diagonal = _combine_diag(c, p1, p2)
        p = c.logical_and(p1["p"], p2["p"])
        return AffineMaps("pd", {"p": p, **diagonal.parts})
    # P1 D1 P2 D2 = (P1 P2) (P2^T D1 P2) D2: the permutations compose as 0/1 matrices
    # (AND for products, OR for sums with at most one nonzero term), and the diagonal
    # of the first map moves along the second permutation before the product.
    p = _or_reduce(c, c.logical_and(p1["p"][:, :, :, None], p2["p"][:, None, :, :]))
    moved = _select(c, np.stack([p1["d"], p1["b"]], axis=1), p2["p"][:, None])
    d = c.mul(moved[:, 0], p2["d"])
    b = c.add(c.mul(moved[:, 1], p2["d"]), p2["b"])
    return AffineMaps("pd", {"p": p, "d": d, "b": b})


def _or_reduce(c, x: np.ndarray) -> np.ndarray:
    """OR over axis -2 with a balanced tree of fan-in-2 OR gates."""
    x = np.moveaxis(x, -2, -1)
    while x.shape[-1] > 1:
        m = x.shape[-1]
        pairs = c.logical_or(x[..., 0 : m - 1 : 2], x[..., 1:m:2])
        if m % 2:
            pairs = np.concatenate([pairs, x[..., m - 1 :]], axis=-1)
        x = pairs
    return x[..., 0]


def _combine_dplr(c, p1: dict, p2: dict) -> AffineMaps:
    # (diag(d1) + U1 V1^T)(diag(d2) + U2 V2^T)
    #   = diag(d1 d2) + [U1, d1 * U2] [d2 * V1 + V2 (U2^T V1), V2]^T
    d1, u1, v1 = p1["d"], p1["u"], p1["v"]
    d2, u2, v2 = p2["d"], p2["u"], p2["v"]
    d = c.mul(d1, d2)
    gram = c.matmul(np.swapaxes(u2, 1, 2), v1)
    w = c.add(c.mul(d2[:, :, None], v1), c.matmul(v2, gram))
    u = np.concatenate([u1, c.mul(d1[:, :, None], u2)], axis=2)
    v = np.concatenate([w, v2], axis=2)
    b = c.add(_apply_dplr(c, p1["b"], p2), p2["b"])
    return AffineMaps("dplr", {"d": d, "u": u, "v": v, "b": b})


def _apply_dplr(c, h: np.ndarray, parts: dict) -> np.ndarray:
    """Append ``h (diag(d) + U V^T)`` without the bias."""
    coefficients = c.vecmat(h, parts["u"])
    low_rank = c.vecmat(coefficients, np.swapaxes(parts["v"], 1, 2))
    return c.add(c.mul(h, parts["d"]), low_rank)


def _combine_dense(c, p1: dict, p2: dict) -> AffineMaps:
    a = c.matmul(p1["a"], p2["a"])
    b = c.add(c.vecmat(p1["b"], p2["a"]), p2["b"])
    return AffineMaps("dense", {"a": a, "b": b})


def apply(c, h: np.ndarray, maps: AffineMaps) -> np.ndarray:
    """Append ``h A + b`` for states ``h (m, D)`` and a batch of m maps."""
    parts = maps.parts
    if maps.form == "diag":
        return c.add(c.mul(h, parts["d"]), parts["b"])
    if maps.form == "pd":
        return c.add(c.mul(_select(c, h, parts["p"]), parts["d"]), parts["b"])
    if maps.form == "dplr":
        return c.add(_apply_dplr(c, h, parts), parts["b"])
    if maps.form == "dense":
        return c.add(c.vecmat(h, parts["a"]), parts["b"])
    raise CompileError(f"unknown affine form {maps.form!r}")
