"""Dense linear RNN: ``h_t = h_{t-1} A(x_t) + b(x_t)`` with a general D x D matrix A.

A combine costs D^3 + D^2 MUL and D^3 ADD gates (matrix product ``A1 A2`` and
``b1 A2 + b2`` with fan-in-2 additions).
"""

from __future__ import annotations

import numpy as np

from circuitlab.compile.affine import AffineMaps
from circuitlab.models.transitions import read_transitions, stack_tokens

FORM = "dense"
PARAM_KEYS = ("transitions",)


def parse_params(table, dim, alphabet, problems) -> dict:
    def read(sub, where):
        return {
            "matrix": problems.array(sub, "matrix", where, (dim, dim)),
            "bias": problems.array(sub, "bias", where, (dim,), default=0),
        }

    return {
        "alphabet": tuple(alphabet),
        "tokens": read_transitions(table, alphabet, problems, read),
    }


def token_parts(params, dim) -> dict:
    tokens, alphabet = params["tokens"], params["alphabet"]
    return {
        "a": stack_tokens(tokens, "matrix", alphabet),
        "b": stack_tokens(tokens, "bias", alphabet),
    }


def reference_transition(params, token, dim):
    entry = params["tokens"][token]
    return np.asarray(entry["matrix"], dtype=object), np.asarray(
        entry["bias"], dtype=object
    )


def free_groups(dim, rank) -> dict:
    return {"a": (dim, dim), "b": (dim,)}


def free_maps(c, parts, rank) -> AffineMaps:
    return AffineMaps(FORM, {"a": parts["a"], "b": parts["b"]})


def random_free(rng, n, dim, rank, values) -> dict:
    return {
        "a": rng.choice(values, size=(n, dim, dim)).astype(object),
        "b": rng.choice(values, size=(n, dim)).astype(object),
    }


def free_transition(values, dim):
    return np.asarray(values["a"], dtype=object), np.asarray(values["b"], dtype=object)
