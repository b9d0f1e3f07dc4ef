"""Linear RNNs ``h_t = h_{t-1} A(x_t) + b(x_t)``, from a spec or with free parameters.

Spec mode: the input at position t is the one-hot vector of its token, and each
transition parameter is the closed form ``P(x) = sum_a x[a] P_a`` over the tokens a.
An entry that is the same for every token is emitted as that constant (the one-hot
input sums to 1), so constant folding removes it.

Free mode: the transition parameters of every position are circuit inputs in the
family's structure (diagonal: D values; PD: a permutation matrix and D values;
DPLR: D + 2rD values; dense: D^2 values), as is h_0. Such a circuit measures the
architecture itself at any state size.
"""

from __future__ import annotations

import numpy as np

from circuitlab.compile.affine import AffineMaps, apply
from circuitlab.errors import EvaluationError
from circuitlab.models.base import RecurrentModel, onehot_rows
from circuitlab.rational import mpq, parse_rational

__all__ = ["LinearSpecModel", "FreeLinearModel"]


class LinearSpecModel(RecurrentModel):
    """A linear RNN defined by a spec: per-token transition parameters."""

    is_linear = True

    def __init__(self, spec, family_module):
        self.spec = spec
        self.name = spec.name
        self.family = spec.family
        self.description = spec.description
        self.state_dim = spec.state_dim
        self.module = family_module
        self.form = family_module.FORM
        # Exact per-token parameters in the affine form: part -> (tokens, *shape).
        self.token_parts = family_module.token_parts(spec.params, spec.state_dim)

    def add_inputs(self, c, n: int) -> np.ndarray:
        return c.add_input("x", (n, len(self.spec.alphabet)))

    def encode(self, tokens) -> dict[str, np.ndarray]:
        self.check_tokens(tokens)
        index = self.spec.token_index
        return {"x": onehot_rows([index[t] for t in tokens], len(self.spec.alphabet))}

    def step_maps(self, c, x: np.ndarray) -> AffineMaps:
        """Emit the step maps of all positions at once (x: one-hot nodes ``(n, tokens)``)."""
        parts = {}
        for name, table in self.token_parts.items():
            parts[name] = _closed_form(c, x, table)
        return AffineMaps(self.form, parts)

    def step(self, c, h, x):
        maps = self.step_maps(c, np.asarray(x)[None, :])
        return apply(c, np.asarray(h)[None, :], maps)[0]

    def transition(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the exact ``(A, b)`` of one token, computed from the spec's own keys."""
        return self.module.reference_transition(self.spec.params, token, self.state_dim)

    def reference_states(self, inputs) -> np.ndarray:
        tokens = (
            inputs
            if not isinstance(inputs, dict)
            else _tokens_from_onehot(self, inputs)
        )
        h = np.array(self.spec.initial_state, dtype=object)
        states = []
        for token in tokens:
            a, b = self.transition(token)
            h = _vecmat_exact(h, a) + b
            states.append(h)
        return np.array(states, dtype=object).reshape(len(tokens), self.state_dim)


def _exact_values(values) -> np.ndarray:
    """Convert ints, 'p/q' strings and rationals to an exact object array."""
    array = np.asarray(values, dtype=object)
    out = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        out[index] = parse_rational(value)
    return out


def _tokens_from_onehot(model, inputs) -> list[str]:
    rows = np.asarray(inputs["x"])
    return [model.spec.alphabet[int(np.flatnonzero(row)[0])] for row in rows]


def _vecmat_exact(h: np.ndarray, a: np.ndarray) -> np.ndarray:
    dim = a.shape[1]
    out = np.empty(dim, dtype=object)
    for j in range(dim):
        out[j] = sum((h[i] * a[i, j] for i in range(len(h))), mpq(0))
    return out


def _closed_form(c, x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Emit ``sum_a x[:, a] * table[a]`` for a one-hot x; shared entries become constants."""
    tokens = table.shape[0]
    flat = table.reshape(tokens, -1)
    same = np.array(
        [
            all(flat[0, k] == flat[a, k] for a in range(tokens))
            for k in range(flat.shape[1])
        ]
    )
    out = np.empty((x.shape[0], flat.shape[1]), dtype=np.int64)
    if same.any():
        out[:, same] = c.consts(flat[0, same])[None, :]
    varying = np.flatnonzero(~same)
    if varying.size:
        weights = c.consts(flat[:, varying])  # (tokens, k)
        products = c.mul(x[:, :, None], weights[None, :, :])  # (n, tokens, k)
        out[:, varying] = c.sum(products, axis=1)
    return out.reshape((x.shape[0],) + table.shape[1:])


class FreeLinearModel(RecurrentModel):
    """A linear RNN whose per-position transition parameters are circuit inputs."""

    is_linear = True
    has_readout = False

    def __init__(self, family: str, family_module, state_dim: int, rank: int = 1):
        self.family = family
        self.module = family_module
        self.form = family_module.FORM
        self.state_dim = state_dim
        self.rank = rank
        self.name = f"{family}-free-d{state_dim}"
        self.description = (
            f"{family} linear RNN with free transition parameters, D = {state_dim}"
        )
        self.groups = family_module.free_groups(state_dim, rank)

    def add_inputs(self, c, n: int) -> np.ndarray:
        self._h0 = c.add_input("h0", (self.state_dim,))
        columns = []
        for name, shape in self.groups.items():
            ids = c.add_input(name, (n,) + shape)
            columns.append(ids.reshape(n, -1))
        return np.concatenate(columns, axis=1)

    def initial_state(self, c) -> np.ndarray:
        return self._h0

    def _split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        parts, offset = {}, 0
        for name, shape in self.groups.items():
            size = int(np.prod(shape))
            parts[name] = x[:, offset : offset + size].reshape((x.shape[0],) + shape)
            offset += size
        return parts

    def step_maps(self, c, x: np.ndarray) -> AffineMaps:
        return self.module.free_maps(c, self._split(np.asarray(x)), self.rank)

    def step(self, c, h, x):
        maps = self.step_maps(c, np.asarray(x)[None, :])
        return apply(c, np.asarray(h)[None, :], maps)[0]

    def random_inputs(
        self, n: int, rng: np.random.Generator, values=(-1, 0, 1)
    ) -> dict:
        """Return random exact input values (entries drawn from ``values``)."""
        out = {"h0": rng.choice(values, size=self.state_dim).astype(object)}
        out.update(self.module.random_free(rng, n, self.state_dim, self.rank, values))
        return out

    def reference_states(self, inputs) -> np.ndarray:
        exact = {name: _exact_values(values) for name, values in inputs.items()}
        h = exact["h0"]
        n = len(exact[next(iter(self.groups))])
        states = []
        for t in range(n):
            values = {name: exact[name][t] for name in self.groups}
            a, b = self.module.free_transition(values, self.state_dim)
            h = _vecmat_exact(h, a) + b
            states.append(h)
        return np.array(states, dtype=object).reshape(n, self.state_dim)

    def tokenize(self, text):
        raise EvaluationError(
            "a free-mode model has no alphabet; pass input values instead"
        )
