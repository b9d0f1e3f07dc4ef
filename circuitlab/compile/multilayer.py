"""Compile a multilayer network (:mod:`circuitlab.models.multilayer`) layer by layer.

Every RNN sublayer except the last must produce the head states of every position,
because the next layer reads them; its linear heads therefore need a prefix
network (or ``chain``). Under ``tree`` only the last RNN sublayer may use the
balanced tree, and only when no later layer needs more than the final position.
Nonlinear heads always unroll as a chain. The circuit has n + 1 positions: the BOS
vector (constants) at position 0 and the n tokens after it.
"""

from __future__ import annotations

import numpy as np

from circuitlab.compile.affine import apply
from circuitlab.compile.chain import unroll_chain
from circuitlab.compile.network import run_schedule
from circuitlab.compile.schedules import schedule
from circuitlab.errors import CompileError
from circuitlab.models import LINEAR_FAMILIES, family_module
from circuitlab.models.nonlinear import elman_step, mlp_step

__all__ = ["compile_layers", "check_multilayer_strategy"]


def check_multilayer_strategy(model, strategy: str, outputs: str) -> None:
    """Raise CompileError if ``strategy`` cannot produce what the network needs."""
    rnn_layers = [k for k, layer in enumerate(model.layers) if layer["kind"] == "rnn"]
    if strategy == "tree" and (outputs == "all" or len(rnn_layers) > 1):
        raise CompileError(
            f"strategy tree computes only final states, but {model.name} needs every prefix "
            f"state of layers[{rnn_layers[0]}] as input to a later layer; use a prefix network "
            "(sklansky, kogge-stone, brent-kung, ladner-fischer, serial) or chain"
        )


def _head_params_gates(c, head, z):
    """Emit the raw parameters ``bias + sum_i z_i T_i`` of a linear head for every position."""
    out = {}
    positions = z.shape[0]
    for name, entry in head["params"].items():
        shape = entry["bias"].shape
        value = np.broadcast_to(c.consts(entry["bias"]), (positions,) + shape)
        for coordinate, coefficients in entry["terms"].items():
            column = z[:, coordinate].reshape((positions,) + (1,) * len(shape))
            value = c.add(value, c.mul(column, c.consts(coefficients)[None]))
        out[name] = np.asarray(value)
    return out


def _run_head(c, head, z, strategy, all_positions, layer_number, pd_combine, progress):
    h0 = c.consts(head["initial_state"])
    positions = z.shape[0]
    family = head["family"]
    if family not in LINEAR_FAMILIES:
        params = head["params"]
        step = (
            (lambda c_, h, x: elman_step(c_, params, h, x))
            if family == "elman"
            else (lambda c_, h, x: mlp_step(c_, params, h, x))
        )
        return unroll_chain(c, step, h0, z, layer=layer_number)
    module = family_module(family)
    with c.block_scope("step", np.arange(positions), layer_number):
        maps = module.free_maps(c, _head_params_gates(c, head, z), head.get("rank", 1))
    if strategy == "chain":

        def step(c_, h, x):
            one = module.free_maps(
                c_, _head_params_gates(c_, head, x[None, :]), head.get("rank", 1)
            )
            return apply(c_, np.asarray(h)[None, :], one)[0]

        return unroll_chain(c, step, h0, z, layer=layer_number)
    store = run_schedule(
        c,
        maps,
        schedule(strategy, positions).levels,
        layer=layer_number,
        pd_combine=pd_combine,
        progress=progress,
    )
    slots = np.arange(positions) if all_positions else np.array([positions - 1])
    states = np.full((positions, head["state_dim"]), -1, dtype=np.int64)
    for found, group in store.get(slots):
        with c.block_scope("apply", slots[found], layer_number):
            start = np.broadcast_to(h0, (len(found), head["state_dim"]))
            states[slots[found]] = apply(c, start, group)
    return states


def compile_layers(
    c, model, n, strategy, outputs, pd_combine, progress=None
) -> np.ndarray:
    """Emit the whole network; return the final stream rows (positions 1..n or n)."""
    check_multilayer_strategy(model, strategy, outputs)
    x = model.add_inputs(c, n)
    with c.block_scope("embed", np.arange(1, n + 1)):
        tokens = c.linear(model.embedding_matrix().T, x)
    stream = np.concatenate([c.consts(model.params["bos"])[None, :], tokens], axis=0)
    rnn_layers = [k for k, layer in enumerate(model.layers) if layer["kind"] == "rnn"]
    last_rnn = rnn_layers[-1] if rnn_layers else -1
    only_final = outputs == "final"
    for number, layer in enumerate(model.layers, start=1):
        # Positions this layer must produce: all, unless no later RNN layer reads them.
        all_positions = not (only_final and number - 1 >= last_rnn)
        rows = np.arange(n + 1) if all_positions else np.array([n])
        if layer["kind"] == "rnn":
            states = [
                _run_head(
                    c,
                    head,
                    stream[:, head["start"] : head["stop"]],
                    strategy,
                    all_positions,
                    number,
                    pd_combine,
                    progress,
                )
                for head in layer["heads"]
            ]
            joined = np.concatenate([s[rows] for s in states], axis=1)
            with c.block_scope("project", rows, number):
                update = c.linear(
                    layer["output"]["weight"], joined, layer["output"]["bias"]
                )
                new_rows = c.add(stream[rows], update)
        else:
            with c.block_scope("ffn", rows, number):
                hidden = c.relu(
                    c.linear(
                        layer["hidden"]["weight"], stream[rows], layer["hidden"]["bias"]
                    )
                )
                update = c.linear(
                    layer["output"]["weight"], hidden, layer["output"]["bias"]
                )
                new_rows = c.add(stream[rows], update)
        stream = stream.copy()
        stream[rows] = new_rows
    return stream[1:] if not only_final else stream[-1:]
