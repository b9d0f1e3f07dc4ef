"""Diagonal linear RNN (Mamba / S4D style): ``h_t = h_{t-1} diag(d(x_t)) + b(x_t)``.

A combine of two diagonal maps costs 3D gates (2D MUL, D ADD): ``d = d1 d2`` and
``b = b1 d2 + b2``.
"""

from __future__ import annotations

import numpy as np

from circuitlab.compile.affine import AffineMaps
from circuitlab.models.transitions import read_transitions, stack_tokens

FORM = "diag"
PARAM_KEYS = ("transitions",)


def parse_params(table, dim, alphabet, problems) -> dict:
    def read(sub, where):
        return {
            "diag": problems.array(sub, "diag", where, (dim,)),
            "bias": problems.array(sub, "bias", where, (dim,), default=0),
        }

    params = read_transitions(table, alphabet, problems, read)
    return {"alphabet": tuple(alphabet), "tokens": params}


def token_parts(params, dim) -> dict:
    tokens, alphabet = params["tokens"], params["alphabet"]
    return {
        "d": stack_tokens(tokens, "diag", alphabet),
        "b": stack_tokens(tokens, "bias", alphabet),
    }


def reference_transition(params, token, dim):
    entry = params["tokens"][token]
    return np.diag(np.asarray(entry["diag"], dtype=object)), np.asarray(
        entry["bias"], dtype=object
    )


def free_groups(dim, rank) -> dict:
    return {"d": (dim,), "b": (dim,)}


def free_maps(c, parts, rank) -> AffineMaps:
    return AffineMaps(FORM, {"d": parts["d"], "b": parts["b"]})


def random_free(rng, n, dim, rank, values) -> dict:
    return {
        "d": rng.choice(values, size=(n, dim)).astype(object),
        "b": rng.choice(values, size=(n, dim)).astype(object),
    }


def free_transition(values, dim):
    return np.diag(np.asarray(values["d"], dtype=object)), np.asarray(
        values["b"], dtype=object
    )
