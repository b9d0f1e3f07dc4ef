"""Nonlinear RNNs: Elman ``h_t = act(W h_{t-1} + U x_t + c)`` and ReLU MLP updates.

Here the state is written as a column vector, as in the usual Elman formula.

``elman`` keys: ``W`` (D x D), ``U`` (D x E), ``c`` (D), ``activation`` (relu, step,
identity, or the float-only tanh and sigmoid; default relu), optional ``embedding``
(token -> vector of length E; default: one-hot over the alphabet, E = tokens).

``mlp`` keys: ``[[layers]]``, each with ``weight`` (rows x columns), ``bias`` (rows)
and ``activation`` (default relu for hidden layers, identity for the last). The
first layer reads the concatenation ``[h_{t-1}, x_t]`` (D + E columns) and the last
layer writes D rows: ``h_t = L_k(... L_1([h_{t-1}, x_t]))``.

A nonlinearity sits between consecutive steps, so the unrolled circuit is a chain
whose depth and nonlinear depth grow linearly in n.
"""

from __future__ import annotations

import numpy as np

from circuitlab.errors import EvaluationError
from circuitlab.models.base import RecurrentModel
from circuitlab.rational import mpq

__all__ = [
    "ElmanModel",
    "MlpModel",
    "ACTIVATIONS",
    "parse_elman",
    "parse_mlp",
    "elman_step",
    "mlp_step",
    "elman_reference",
    "mlp_reference",
]

ACTIVATIONS = ("relu", "step", "identity", "tanh", "sigmoid")
EXACT_ACTIVATIONS = ("relu", "step", "identity")


def _read_activation(table, where, problems, default):
    name = table.get("activation", default)
    if name not in ACTIVATIONS:
        problems.add(
            f"{where}activation",
            f"unknown activation {name!r} (one of {', '.join(ACTIVATIONS)})",
        )
        return default
    return name


def _read_embedding(table, alphabet, problems):
    """Return (E, token -> exact vector) from ``[embedding]`` or one-hot."""
    embedding = table.get("embedding")
    if embedding is None:
        vectors = {}
        for k, token in enumerate(alphabet):
            row = np.full(len(alphabet), mpq(0), dtype=object)
            row[k] = mpq(1)
            vectors[token] = row
        return len(alphabet), vectors
    if not isinstance(embedding, dict):
        problems.add("embedding", "expected a table token -> vector")
        return len(alphabet), {}
    lengths = {len(v) for v in embedding.values() if isinstance(v, list)}
    width = lengths.pop() if len(lengths) == 1 else None
    if width is None:
        problems.add("embedding", "every token needs a vector of one common length")
        return len(alphabet), {}
    vectors = {}
    for token in alphabet:
        if token not in embedding:
            problems.add(
                f"embedding.{token}", "missing (every alphabet token needs a vector)"
            )
            continue
        vectors[token] = problems.array(embedding, token, "embedding.", (width,))
    for token in embedding:
        if token not in alphabet:
            problems.add(f"embedding.{token}", "token is not in the alphabet")
    return width, vectors


def _apply_exact(name: str, values: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.array([v if v > 0 else mpq(0) for v in values], dtype=object)
    if name == "step":
        return np.array([mpq(1) if v > 0 else mpq(0) for v in values], dtype=object)
    if name == "identity":
        return values
    raise EvaluationError(
        f"activation {name} has no exact semantics; evaluate with domain float or use relu"
    )


def _affine_exact(weight, bias, x):
    return np.array(
        [
            sum((w * v for w, v in zip(row, x)), mpq(0)) + b
            for row, b in zip(weight, bias)
        ],
        dtype=object,
    )


class _NonlinearBase(RecurrentModel):
    is_linear = False

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.family = spec.family
        self.description = spec.description
        self.state_dim = spec.state_dim
        self.input_dim = spec.params["input_dim"]
        self.embedding = spec.params["embedding"]

    def add_inputs(self, c, n: int) -> np.ndarray:
        return c.add_input("x", (n, self.input_dim))

    def encode(self, tokens) -> dict[str, np.ndarray]:
        self.check_tokens(tokens)
        return {"x": np.array([self.embedding[t] for t in tokens], dtype=object)}

    def reference_states(self, inputs) -> np.ndarray:
        if isinstance(inputs, dict):
            rows = np.asarray(inputs["x"], dtype=object)
        else:
            rows = self.encode(inputs)["x"]
        h = np.array(self.spec.initial_state, dtype=object)
        states = []
        for x in rows:
            h = self.reference_step(h, np.array([mpq(v) for v in x], dtype=object))
            states.append(h)
        return np.array(states, dtype=object).reshape(len(rows), self.state_dim)


def parse_elman(table, dim, width, problems, where="") -> dict:
    """Read the Elman keys W, U, c, activation for input width ``width``."""
    return {
        "W": problems.array(table, "W", where, (dim, dim)),
        "U": problems.array(table, "U", where, (dim, width)),
        "c": problems.array(table, "c", where, (dim,), default=0),
        "activation": _read_activation(table, where, problems, "relu"),
    }


def elman_step(c, params, h, x):
    """Emit ``act(W h + U x + c)``."""
    pre = c.add(c.linear(params["W"], h), c.linear(params["U"], x, params["c"]))
    return c.activation(params["activation"], pre)


def elman_reference(params, h, x):
    pre = _affine_exact(params["W"], np.zeros(len(h), dtype=object), h)
    pre = pre + _affine_exact(params["U"], params["c"], x)
    return _apply_exact(params["activation"], pre)


def parse_mlp(table, dim, width, problems, where="") -> list:
    """Read ``[[layers]]`` of an MLP update reading ``[h, x]`` (D + width columns)."""
    layers_table = table.get("layers")
    layers = []
    if not isinstance(layers_table, list) or not layers_table:
        problems.add(
            f"{where}layers",
            "missing list of [[layers]] tables (weight, bias, activation)",
        )
        return layers
    columns = dim + width
    for k, layer in enumerate(layers_table):
        prefix = f"{where}layers[{k}]."
        if not isinstance(layer, dict):
            problems.add(
                prefix.rstrip("."), "expected a table with weight, bias and activation"
            )
            return layers
        last = k == len(layers_table) - 1
        weight = layer.get("weight")
        if last:
            rows = dim
        elif isinstance(weight, list):
            rows = len(weight)
        else:
            rows = 0
        if not last and rows == 0:
            problems.add(f"{prefix}weight", "missing or empty")
            break
        layers.append(
            {
                "weight": problems.array(layer, "weight", prefix, (rows, columns)),
                "bias": problems.array(layer, "bias", prefix, (rows,), default=0),
                "activation": _read_activation(
                    layer, prefix, problems, "identity" if last else "relu"
                ),
            }
        )
        columns = rows
    return layers


def mlp_step(c, layers, h, x):
    """Emit the MLP update on ``[h, x]``."""
    value = np.concatenate([np.asarray(h), np.asarray(x)])
    for layer in layers:
        value = c.activation(
            layer["activation"], c.linear(layer["weight"], value, layer["bias"])
        )
    return value


def mlp_reference(layers, h, x):
    value = np.concatenate([h, x])
    for layer in layers:
        value = _apply_exact(
            layer["activation"], _affine_exact(layer["weight"], layer["bias"], value)
        )
    return value


class ElmanModel(_NonlinearBase):
    """Elman RNN ``h_t = act(W h_{t-1} + U x_t + c)``."""

    PARAM_KEYS = ("W", "U", "c", "activation", "embedding")

    @staticmethod
    def parse_params(table, dim, alphabet, problems) -> dict:
        width, embedding = _read_embedding(table, alphabet, problems)
        params = parse_elman(table, dim, width, problems)
        params.update({"input_dim": width, "embedding": embedding})
        return params

    def step(self, c, h, x):
        return elman_step(c, self.spec.params, h, x)

    def reference_step(self, h, x):
        return elman_reference(self.spec.params, h, x)


class MlpModel(_NonlinearBase):
    """ReLU MLP update ``h_t = MLP([h_{t-1}, x_t])``."""

    PARAM_KEYS = ("layers", "embedding")

    @staticmethod
    def parse_params(table, dim, alphabet, problems) -> dict:
        width, embedding = _read_embedding(table, alphabet, problems)
        layers = parse_mlp(table, dim, width, problems)
        return {"input_dim": width, "embedding": embedding, "layers": layers}

    def step(self, c, h, x):
        return mlp_step(c, self.spec.params["layers"], h, x)

    def reference_step(self, h, x):
        return mlp_reference(self.spec.params["layers"], h, x)
