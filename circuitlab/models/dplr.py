"""Diagonal-plus-low-rank linear RNNs: ``A(x) = diag(d(x)) + U(x) V(x)^T``.

Four families share the DPLR affine form (``d``, ``u``, ``v``; rank r = columns of U):

``dplr``            general: per token ``diag`` (D), ``u`` and ``v`` (D x r), ``bias``;
                    ``rank = r`` at the top level of the spec.
``deltanet``        generalized Householder ``A = I - beta k k^T`` (DeltaNet); per token
                    ``beta`` (any rational, e.g. 2 or 1/3) and ``k`` (D).
``gated-deltanet``  ``A = diag(alpha) (I - beta k k^T)`` (Gated DeltaNet); per token
                    ``alpha`` (D), ``beta``, ``k``.
``rwkv7``           ``A = diag(w) - kappa (a * kappa)^T`` (RWKV-7 without key
                    normalisation); per token ``w``, ``kappa``, ``a`` (each D). With
                    ``w = 1``, ``a = e_j`` and ``kappa = e_j - c`` (``c_j = 0``) this is the
                    overwrite matrix that sets coordinate j to ``<h, c>``.

All take ``bias`` (D, default 0). Free mode makes the raw parameters circuit inputs
and emits the gates that turn them into (d, U, V).
"""

from __future__ import annotations

import numpy as np

from circuitlab.compile.affine import AffineMaps
from circuitlab.models.transitions import (
    identity,
    outer,
    read_transitions,
    stack_tokens,
)
from circuitlab.rational import mpq

__all__ = ["Dplr", "DeltaNet", "GatedDeltaNet", "Rwkv7"]


def _bias(problems, sub, where, dim):
    return problems.array(sub, "bias", where, (dim,), default=0)


class _DplrFamily:
    FORM = "dplr"
    PARAM_KEYS = ("transitions",)

    @classmethod
    def parse_params(cls, table, dim, alphabet, problems) -> dict:
        rank = cls._rank(table, problems)

        def read(sub, where):
            entry = cls._read_token(sub, where, dim, rank, problems)
            entry["bias"] = _bias(problems, sub, where, dim)
            return entry

        tokens = read_transitions(table, alphabet, problems, read)
        return {"alphabet": tuple(alphabet), "tokens": tokens, "rank": rank}

    @classmethod
    def _rank(cls, table, problems) -> int:
        return 1

    @classmethod
    def token_parts(cls, params, dim) -> dict:
        alphabet = params["alphabet"]
        per_token = [cls._parts(params["tokens"][t], dim) for t in alphabet]
        out = {key: np.stack([p[key] for p in per_token]) for key in ("d", "u", "v")}
        out["b"] = stack_tokens(params["tokens"], "bias", alphabet)
        return out

    @classmethod
    def reference_transition(cls, params, token, dim):
        entry = params["tokens"][token]
        return cls._matrix(entry, dim), np.asarray(entry["bias"], dtype=object)

    @classmethod
    def free_transition(cls, values, dim):
        entry = {k: np.asarray(v, dtype=object) for k, v in values.items()}
        if "beta" in entry:
            entry["beta"] = entry["beta"].reshape(-1)[0]
        return cls._matrix(entry, dim), entry["b"]

    @classmethod
    def random_free(cls, rng, n, dim, rank, values) -> dict:
        return {
            name: rng.choice(values, size=(n,) + shape).astype(object)
            for name, shape in cls.free_groups(dim, rank).items()
        }


class Dplr(_DplrFamily):
    PARAM_KEYS = ("transitions", "rank")

    @classmethod
    def _rank(cls, table, problems):
        return problems.integer(table, "rank", "", minimum=1, default=1) or 1

    @classmethod
    def _read_token(cls, sub, where, dim, rank, problems):
        return {
            "diag": problems.array(sub, "diag", where, (dim,)),
            "u": problems.array(sub, "u", where, (dim, rank)),
            "v": problems.array(sub, "v", where, (dim, rank)),
        }

    @staticmethod
    def _parts(entry, dim):
        return {"d": entry["diag"], "u": entry["u"], "v": entry["v"]}

    @staticmethod
    def _matrix(entry, dim):
        d = entry.get("diag", entry.get("d"))
        low_rank = (
            np.asarray(entry["u"], dtype=object)
            @ np.asarray(entry["v"], dtype=object).T
        )
        return np.diag(np.asarray(d, dtype=object)) + low_rank

    @staticmethod
    def free_groups(dim, rank):
        return {"d": (dim,), "u": (dim, rank), "v": (dim, rank), "b": (dim,)}

    @staticmethod
    def free_maps(c, parts, rank):
        return AffineMaps(
            "dplr", {"d": parts["d"], "u": parts["u"], "v": parts["v"], "b": parts["b"]}
        )


class DeltaNet(_DplrFamily):
    @classmethod
    def _read_token(cls, sub, where, dim, rank, problems):
        return {
            "beta": problems.rational(sub, "beta", where),
            "k": problems.array(sub, "k", where, (dim,)),
        }

    @staticmethod
    def _parts(entry, dim):
        k = np.asarray(entry["k"], dtype=object)
        return {
            "d": np.full(dim, mpq(1), dtype=object),
            "u": (-entry["beta"] * k).reshape(dim, 1),
            "v": k.reshape(dim, 1),
        }

    @staticmethod
    def _matrix(entry, dim):
        k = entry["k"]
        return identity(dim) - entry["beta"] * outer(k, k)

    @staticmethod
    def free_groups(dim, rank):
        return {"beta": (1,), "k": (dim,), "b": (dim,)}

    @staticmethod
    def free_maps(c, parts, rank):
        m, dim = parts["k"].shape
        u = c.neg(c.mul(parts["beta"], parts["k"]))
        d = np.full((m, dim), c.const(1), dtype=np.int64)
        return AffineMaps(
            "dplr",
            {"d": d, "u": u[:, :, None], "v": parts["k"][:, :, None], "b": parts["b"]},
        )


class GatedDeltaNet(_DplrFamily):
    @classmethod
    def _read_token(cls, sub, where, dim, rank, problems):
        return {
            "alpha": problems.array(sub, "alpha", where, (dim,)),
            "beta": problems.rational(sub, "beta", where),
            "k": problems.array(sub, "k", where, (dim,)),
        }

    @staticmethod
    def _parts(entry, dim):
        k = np.asarray(entry["k"], dtype=object)
        alpha = np.asarray(entry["alpha"], dtype=object)
        return {
            "d": alpha,
            "u": (-entry["beta"] * alpha * k).reshape(dim, 1),
            "v": k.reshape(dim, 1),
        }

    @staticmethod
    def _matrix(entry, dim):
        k = entry["k"]
        householder = identity(dim) - entry["beta"] * outer(k, k)
        return np.diag(np.asarray(entry["alpha"], dtype=object)) @ householder

    @staticmethod
    def free_groups(dim, rank):
        return {"alpha": (dim,), "beta": (1,), "k": (dim,), "b": (dim,)}

    @staticmethod
    def free_maps(c, parts, rank):
        u = c.neg(c.mul(c.mul(parts["beta"], parts["alpha"]), parts["k"]))
        return AffineMaps(
            "dplr",
            {
                "d": parts["alpha"],
                "u": u[:, :, None],
                "v": parts["k"][:, :, None],
                "b": parts["b"],
            },
        )


class Rwkv7(_DplrFamily):
    @classmethod
    def _read_token(cls, sub, where, dim, rank, problems):
        return {
            "w": problems.array(sub, "w", where, (dim,)),
            "kappa": problems.array(sub, "kappa", where, (dim,)),
            "a": problems.array(sub, "a", where, (dim,)),
        }

    @staticmethod
    def _parts(entry, dim):
        kappa = np.asarray(entry["kappa"], dtype=object)
        rate = np.asarray(entry["a"], dtype=object)
        return {
            "d": np.asarray(entry["w"], dtype=object),
            "u": (-kappa).reshape(dim, 1),
            "v": (rate * kappa).reshape(dim, 1),
        }

    @staticmethod
    def _matrix(entry, dim):
        kappa = np.asarray(entry["kappa"], dtype=object)
        rate = np.asarray(entry["a"], dtype=object)
        return np.diag(np.asarray(entry["w"], dtype=object)) - outer(
            kappa, rate * kappa
        )

    @staticmethod
    def free_groups(dim, rank):
        return {"w": (dim,), "kappa": (dim,), "a": (dim,), "b": (dim,)}

    @staticmethod
    def free_maps(c, parts, rank):
        u = c.neg(parts["kappa"])
        v = c.mul(parts["a"], parts["kappa"])
        return AffineMaps(
            "dplr",
            {"d": parts["w"], "u": u[:, :, None], "v": v[:, :, None], "b": parts["b"]},
        )
