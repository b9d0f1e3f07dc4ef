"""Permutation-diagonal linear RNN (PD-SSM): ``A(x) = P(x) diag(d(x))``.

Spec keys per token: ``perm`` (list of D integers, a permutation of 0..D-1; the state
coordinate i moves to coordinate ``perm[i]``, so ``P[i, perm[i]] = 1``), ``diag``
(default all 1) and ``bias`` (default all 0). Products of PD matrices are PD:
``(P1 D1)(P2 D2) = (P1 P2)(P2^T D1 P2) D2``.
"""

from __future__ import annotations

import numpy as np

from circuitlab.compile.affine import AffineMaps
from circuitlab.models.transitions import read_transitions, stack_tokens
from circuitlab.rational import mpq

FORM = "pd"
PARAM_KEYS = ("transitions",)


def _perm_matrix(perm, dim) -> np.ndarray:
    out = np.full((dim, dim), mpq(0), dtype=object)
    for i, j in enumerate(perm):
        out[i, j] = mpq(1)
    return out


def parse_params(table, dim, alphabet, problems) -> dict:
    def read(sub, where):
        perm = sub.get("perm")
        valid = (
            isinstance(perm, list)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in perm)
            and sorted(perm) == list(range(dim))
        )
        if not valid:
            problems.add(
                f"{where}perm",
                f"expected a permutation of 0..{dim - 1} as a list of {dim} integers, got {perm!r}",
            )
        return {
            "perm": _perm_matrix(perm, dim) if valid else None,
            "diag": problems.array(sub, "diag", where, (dim,), default=1),
            "bias": problems.array(sub, "bias", where, (dim,), default=0),
        }

    return {
        "alphabet": tuple(alphabet),
        "tokens": read_transitions(table, alphabet, problems, read),
    }


def token_parts(params, dim) -> dict:
    tokens, alphabet = params["tokens"], params["alphabet"]
    return {
        "p": stack_tokens(tokens, "perm", alphabet),
        "d": stack_tokens(tokens, "diag", alphabet),
        "b": stack_tokens(tokens, "bias", alphabet),
    }


def reference_transition(params, token, dim):
    entry = params["tokens"][token]
    perm = entry["perm"]
    diag = entry["diag"]
    a = np.array(
        [[perm[i, j] * diag[j] for j in range(dim)] for i in range(dim)], dtype=object
    )
    return a, np.asarray(entry["bias"], dtype=object)


def free_groups(dim, rank) -> dict:
    return {"p": (dim, dim), "d": (dim,), "b": (dim,)}


def free_maps(c, parts, rank) -> AffineMaps:
    return AffineMaps(FORM, {"p": parts["p"], "d": parts["d"], "b": parts["b"]})


def random_free(rng, n, dim, rank, values) -> dict:
    perms = np.zeros((n, dim, dim), dtype=np.int64)
    for t in range(n):
        perms[t, np.arange(dim), rng.permutation(dim)] = 1
    return {
        "p": perms.astype(object),
        "d": rng.choice(values, size=(n, dim)).astype(object),
        "b": rng.choice(values, size=(n, dim)).astype(object),
    }


def free_transition(values, dim):
    p = np.asarray(values["p"], dtype=object)
    d = np.asarray(values["d"], dtype=object)
    return p * d[None, :], np.asarray(values["b"], dtype=object)
