"""Multilayer networks: multihead RNN sublayers alternating with ReLU feedforward sublayers.

The network keeps a residual stream ``X_t`` of width W (the spec's ``state_dim``) at
positions t = 0..n. Position 0 contains a BOS vector (``bos``) and position t
the embedding of token t. Layers update the stream in order:

``kind = "rnn"``   Each head reads a slice ``z_t = X_t[start:stop]`` of the stream and
                   runs its own recurrence (any family). The head states of every
                   position are concatenated, projected (``output``) and added:
                   ``X_t <- X_t + W_o [h^1_t, ..., h^H_t] + b_o``.
``kind = "ffn"``   ``X_t <- X_t + W_2 ReLU(W_1 X_t + b_1) + b_2``.

The readout is ``y = <X_n, w> + bias`` at the last position; the input is accepted
iff ``y > 0``. There is no normalisation: every operation stays exact over Q.

A linear head's transition parameters are affine in its input, ``P(z) = bias +
sum_i z_i T_i`` (``[..params.NAME] bias`` and ``terms = {i = T_i}``), which with a
one-hot z is the per-token table of a single-layer spec. Parameter names are those
of the family's free mode (diagonal: d, b; pd: p, d, b; dplr: d, u, v, b;
deltanet: beta, k, b; gated-deltanet: alpha, beta, k, b; rwkv7: w, kappa, a, b;
dense: a, b). Nonlinear heads take the Elman keys (W, U, c, activation) or MLP
``[[..layers]]`` with their input z of width ``stop - start``.
"""

from __future__ import annotations

import numpy as np

from circuitlab.models import LINEAR_FAMILIES, NONLINEAR_FAMILIES, family_module
from circuitlab.models.base import RecurrentModel, onehot_rows
from circuitlab.models.nonlinear import (
    elman_reference,
    mlp_reference,
    parse_elman,
    parse_mlp,
)
from circuitlab.rational import mpq

__all__ = ["MultilayerFamily", "MultilayerModel", "head_parameters"]

HEAD_FAMILIES = LINEAR_FAMILIES + NONLINEAR_FAMILIES


class MultilayerFamily:
    """Spec parser of ``family = "multilayer"``."""

    PARAM_KEYS = ("layers", "embedding", "bos", "normalization")

    @staticmethod
    def parse_params(table, width, alphabet, problems) -> dict:
        normalization = table.get("normalization", "none")
        if normalization != "none":
            problems.add(
                "normalization",
                f"unsupported {normalization!r}: only 'none' keeps the network exact over Q",
            )
        embedding = {}
        raw = table.get("embedding")
        if not isinstance(raw, dict):
            problems.add("embedding", f"missing table token -> vector of width {width}")
        else:
            for token in alphabet:
                embedding[token] = problems.array(raw, token, "embedding.", (width,))
            for token in raw:
                if token not in alphabet:
                    problems.add(f"embedding.{token}", "token is not in the alphabet")
        bos = problems.array(table, "bos", "", (width,))
        layers = []
        raw_layers = table.get("layers")
        if not isinstance(raw_layers, list) or not raw_layers:
            problems.add("layers", "missing list of [[layers]] (kind = 'rnn' or 'ffn')")
            raw_layers = []
        for index, layer in enumerate(raw_layers):
            where = f"layers[{index}]."
            kind = layer.get("kind") if isinstance(layer, dict) else None
            if kind == "rnn":
                layers.append(_parse_rnn_layer(layer, width, where, problems))
            elif kind == "ffn":
                layers.append(_parse_ffn_layer(layer, width, where, problems))
            else:
                problems.add(f"{where}kind", f"expected 'rnn' or 'ffn', got {kind!r}")
        return {"embedding": embedding, "bos": bos, "layers": layers, "width": width}


def _parse_rnn_layer(layer, width, where, problems) -> dict:
    heads_table = layer.get("heads")
    if not isinstance(heads_table, list) or not heads_table:
        problems.add(f"{where}heads", "missing list of [[layers.heads]]")
        return {"kind": "rnn", "heads": [], "output": None}
    count = len(heads_table)
    if (
        any("input" not in h for h in heads_table if isinstance(h, dict))
        and width % count
    ):
        problems.add(
            f"{where}heads",
            f"{count} heads do not divide the width {width}; give each head an input = [start, stop]",
        )
    heads = []
    for k, head in enumerate(heads_table):
        head_where = f"{where}heads[{k}]."
        default = [k * width // count, (k + 1) * width // count]
        heads.append(_parse_head(head, width, default, head_where, problems))
    total = sum(h["state_dim"] or 0 for h in heads)
    output = _parse_projection(layer, "output", (width, total), where, problems)
    return {"kind": "rnn", "heads": heads, "output": output}


def _parse_projection(layer, key, shape, where, problems):
    """Read ``[layers.KEY] weight, bias`` or ``KEY_offset`` (identity placement)."""
    if f"{key}_offset" in layer:
        offset = layer[f"{key}_offset"]
        rows, columns = shape
        if (
            not isinstance(offset, int)
            or isinstance(offset, bool)
            or not 0 <= offset <= rows - columns
        ):
            problems.add(
                f"{where}{key}_offset",
                f"expected an integer in 0..{rows - columns} so that {columns} values fit in width {rows}",
            )
            return None
        weight = np.full(shape, mpq(0), dtype=object)
        for j in range(columns):
            weight[offset + j, j] = mpq(1)
        return {"weight": weight, "bias": np.full(rows, mpq(0), dtype=object)}
    table = layer.get(key)
    if not isinstance(table, dict):
        problems.add(
            f"{where}{key}",
            f"missing table with weight {shape} and bias (or {key}_offset)",
        )
        return None
    return {
        "weight": problems.array(table, "weight", f"{where}{key}.", shape),
        "bias": problems.array(table, "bias", f"{where}{key}.", (shape[0],), default=0),
    }


def _parse_ffn_layer(layer, width, where, problems) -> dict:
    hidden_table = layer.get("hidden")
    rows = 0
    if isinstance(hidden_table, dict) and isinstance(hidden_table.get("weight"), list):
        rows = len(hidden_table["weight"])
    if rows == 0:
        problems.add(
            f"{where}hidden", "missing table with weight (hidden x width) and bias"
        )
        return {"kind": "ffn", "hidden": None, "output": None}
    hidden = _parse_projection(layer, "hidden", (rows, width), where, problems)
    output = _parse_projection(layer, "output", (width, rows), where, problems)
    return {"kind": "ffn", "hidden": hidden, "output": output}


def _parse_head(head, width, default_slice, where, problems) -> dict:
    if not isinstance(head, dict):
        problems.add(where.rstrip("."), "expected a table")
        return {"family": None, "state_dim": None}
    family = head.get("family")
    if family not in HEAD_FAMILIES:
        problems.add(
            f"{where}family",
            f"expected one of {', '.join(HEAD_FAMILIES)}, got {family!r}",
        )
        family = None
    dim = problems.integer(head, "state_dim", where, minimum=1)
    start, stop = (
        head.get("input", default_slice)
        if isinstance(head.get("input", default_slice), list)
        else (None, None)
    )
    if not (
        isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop <= width
    ):
        problems.add(
            f"{where}input", f"expected [start, stop] with 0 <= start < stop <= {width}"
        )
        start, stop = 0, width
    out = {"family": family, "state_dim": dim, "start": start, "stop": stop}
    if family is None or dim is None:
        return out
    out["initial_state"] = problems.array(
        head, "initial_state", where, (dim,), default=0
    )
    width_in = stop - start
    known = {"family", "state_dim", "input", "initial_state"}
    if family == "elman":
        out["params"] = parse_elman(head, dim, width_in, problems, where)
        known |= {"W", "U", "c", "activation"}
    elif family == "mlp":
        out["params"] = parse_mlp(head, dim, width_in, problems, where)
        known |= {"layers"}
    else:
        rank = problems.integer(head, "rank", where, minimum=1, default=1) or 1
        out["rank"] = rank
        out["params"] = _parse_linear_params(
            head, family, dim, rank, width_in, where, problems
        )
        known |= {"rank", "params"}
    for key in head:
        if key not in known:
            problems.add(
                f"{where}{key}",
                f"unknown key for a {family} head (known: {', '.join(sorted(known))})",
            )
    return out


def _parse_linear_params(head, family, dim, rank, width_in, where, problems) -> dict:
    groups = family_module(family).free_groups(dim, rank)
    table = head.get("params")
    if not isinstance(table, dict):
        problems.add(
            f"{where}params", f"missing table with entries {', '.join(groups)}"
        )
        return {}
    params = {}
    for name, shape in groups.items():
        entry = table.get(name, {})
        key = f"{where}params.{name}."
        if not isinstance(entry, dict):
            problems.add(key.rstrip("."), "expected a table with bias and terms")
            continue
        bias = _read_shaped(entry, "bias", key, shape, problems, default=0)
        terms = {}
        raw_terms = entry.get("terms", {})
        if not isinstance(raw_terms, dict):
            problems.add(
                f"{key}terms", "expected a table: input coordinate -> coefficients"
            )
            raw_terms = {}
        for coordinate, _value in raw_terms.items():
            if not coordinate.isdigit() or int(coordinate) >= width_in:
                problems.add(
                    f"{key}terms.{coordinate}",
                    f"expected an input coordinate 0..{width_in - 1}",
                )
                continue
            terms[int(coordinate)] = _read_shaped(
                raw_terms, coordinate, f"{key}terms.", shape, problems
            )
        params[name] = {"bias": bias, "terms": terms}
    for name in table:
        if name not in groups:
            problems.add(
                f"{where}params.{name}",
                f"unknown parameter for {family} (known: {', '.join(groups)})",
            )
    return params


def _read_shaped(table, key, where, shape, problems, default=None):
    """Read an array of ``shape``; a scalar is accepted for shape (1,)."""
    if shape == (1,) and key in table and not isinstance(table[key], list):
        value = problems.rational(table, key, where)
        return None if value is None else np.array([value], dtype=object)
    return problems.array(table, key, where, shape, default=default)


def head_parameters(head: dict, z: np.ndarray) -> dict:
    """Return the exact raw parameters of a linear head for one input vector z."""
    values = {}
    for name, entry in head["params"].items():
        value = np.array(entry["bias"], dtype=object)
        for coordinate, coefficients in entry["terms"].items():
            value = value + z[coordinate] * coefficients
        values[name] = value
    return values


class MultilayerModel(RecurrentModel):
    """A multilayer network of multihead RNN and feedforward sublayers (see module doc)."""

    is_linear = (
        False  # compiled by circuitlab.compile.multilayer, not the single-layer paths
    )
    is_multilayer = True

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.family = "multilayer"
        self.description = spec.description
        self.state_dim = spec.state_dim
        self.params = spec.params
        self.layers = spec.params["layers"]
        self.has_linear_heads = any(
            h["family"] in LINEAR_FAMILIES
            for layer in self.layers
            if layer["kind"] == "rnn"
            for h in layer["heads"]
        )
        self.has_nonlinear_heads = any(
            h["family"] in NONLINEAR_FAMILIES
            for layer in self.layers
            if layer["kind"] == "rnn"
            for h in layer["heads"]
        )

    def add_inputs(self, c, n: int) -> np.ndarray:
        return c.add_input("x", (n, len(self.spec.alphabet)))

    def encode(self, tokens) -> dict[str, np.ndarray]:
        self.check_tokens(tokens)
        index = self.spec.token_index
        return {"x": onehot_rows([index[t] for t in tokens], len(self.spec.alphabet))}

    def embedding_matrix(self) -> np.ndarray:
        """Return the ``(tokens, W)`` exact embedding table in alphabet order."""
        return np.stack([self.params["embedding"][t] for t in self.spec.alphabet])

    def reference_stream(self, tokens) -> np.ndarray:
        """Return the residual stream after the last layer at positions 0..n (exact)."""
        stream = [np.array(self.params["bos"], dtype=object)]
        stream += [np.array(self.params["embedding"][t], dtype=object) for t in tokens]
        stream = np.array(stream, dtype=object)
        for layer in self.layers:
            if layer["kind"] == "rnn":
                states = [_reference_head(head, stream) for head in layer["heads"]]
                joined = np.concatenate(states, axis=1)
                stream = stream + _affine_rows(layer["output"], joined)
            else:
                hidden = _affine_rows(layer["hidden"], stream)
                hidden = np.vectorize(
                    lambda v: v if v > 0 else mpq(0), otypes=[object]
                )(hidden)
                stream = stream + _affine_rows(layer["output"], hidden)
        return stream

    def reference_states(self, inputs) -> np.ndarray:
        tokens = (
            inputs
            if not isinstance(inputs, dict)
            else [
                self.spec.alphabet[int(np.flatnonzero(row)[0])]
                for row in np.asarray(inputs["x"])
            ]
        )
        return self.reference_stream(tokens)[1:]


def _affine_rows(projection, rows: np.ndarray) -> np.ndarray:
    weight, bias = projection["weight"], projection["bias"]
    out = np.empty((rows.shape[0], weight.shape[0]), dtype=object)
    for t in range(rows.shape[0]):
        for i in range(weight.shape[0]):
            out[t, i] = (
                sum((weight[i, j] * rows[t, j] for j in range(weight.shape[1])), mpq(0))
                + bias[i]
            )
    return out


def _reference_head(head, stream) -> np.ndarray:
    z_rows = stream[:, head["start"] : head["stop"]]
    h = np.array(head["initial_state"], dtype=object)
    module = (
        family_module(head["family"]) if head["family"] in LINEAR_FAMILIES else None
    )
    states = []
    for z in z_rows:
        if head["family"] == "elman":
            h = elman_reference(head["params"], h, z)
        elif head["family"] == "mlp":
            h = mlp_reference(head["params"], h, z)
        else:
            a, b = module.free_transition(head_parameters(head, z), head["state_dim"])
            h = np.array(
                [
                    sum((h[i] * a[i, j] for i in range(len(h))), mpq(0)) + b[j]
                    for j in range(a.shape[1])
                ],
                dtype=object,
            )
        states.append(h)
    return np.array(states, dtype=object).reshape(len(z_rows), head["state_dim"])
