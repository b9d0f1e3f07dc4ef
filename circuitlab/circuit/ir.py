"""The circuit IR: a DAG of gates stored as flat numpy arrays (struct of arrays).

Every node (input, constant or operation gate) has an index. Per node the circuit
stores its opcode, its operands in CSR form (``fanin_ptr``, ``fanin``), its depth,
its nonlinear depth and a block label. Constants live in a side table of exact
rationals and are deduplicated, so the value 0 has one node and the value 1 has one
node.

Invariants
----------
- Topological order: every operand index is smaller than the index of its gate.
- Gates are appended in batches. The gates of one batch share one opcode and do not
  read each other, so evaluation and analysis process a batch with array
  operations. ``batch_starts`` records the first node of each batch.
- Depth and nonlinear depth are computed when a gate is appended: inputs and
  constants have depth 0, a gate has 1 + the maximum depth of its operands, and its
  nonlinear depth adds 1 only for the opcodes in :data:`~circuitlab.circuit.ops.NONLINEAR`.
- Nothing here recurses over the circuit.

Build-time rewrites (``fold=True``, the default): constant-constant operations are
evaluated, ``x*0 -> 0``, ``x*1 -> x``, ``x+0 -> x``, ``x-0 -> x``, and the same for
the boolean gates. The builder methods return node indices, which may be existing
nodes when a rewrite applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from circuitlab.circuit.ops import FLOAT_ONLY, NONLINEAR_MASK, Op
from circuitlab.errors import CompileError
from circuitlab.rational import mpq, parse_rational

__all__ = ["Circuit", "BlockTable"]

_GROWTH = 1.5
_INDEX = np.int64
_UINT32_LIMIT = 2**32 - 1


class BlockTable:
    """Block labels: which step, combine level or layer produced a gate.

    Block ``b`` has kind ``kinds[kind[b]]`` (for example ``"step"``, ``"combine"``,
    ``"readout"``), an ``index`` (position t, or level of a combine network), a
    ``layer`` and a ``slot`` (the slot a combine writes, or -1). Gate ``g`` belongs
    to block ``Circuit.block[g]`` (-1 for none). Storage grows geometrically, so
    appending blocks one at a time stays linear overall.
    """

    _FIELDS = (
        ("kind", np.uint8),
        ("index", np.int32),
        ("layer", np.int16),
        ("slot", np.int32),
    )

    def __init__(self, kinds=None, kind=None, index=None, layer=None, slot=None):
        self.kinds: list[str] = list(kinds or [])
        given = {"kind": kind, "index": index, "layer": layer, "slot": slot}
        self._count = 0 if kind is None else len(kind)
        for name, dtype in self._FIELDS:
            values = given[name]
            array = np.zeros(max(self._count, 16), dtype=dtype)
            if values is not None:
                array[: self._count] = values
            setattr(self, f"_{name}", array)

    kind = property(lambda self: self._kind[: self._count])
    index = property(lambda self: self._index[: self._count])
    layer = property(lambda self: self._layer[: self._count])
    slot = property(lambda self: self._slot[: self._count])

    def __len__(self) -> int:
        return self._count

    def add(self, kind: str, index, layer: int = 0, slot=None) -> np.ndarray:
        """Append one block per entry of ``index`` and return their ids.

        ``slot`` (same length as ``index``) is the slot a combine writes, or -1.
        """
        if kind not in self.kinds:
            self.kinds.append(kind)
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        start, end = self._count, self._count + len(index)
        if end > len(self._kind):
            size = max(end, int(1.5 * len(self._kind)))
            for name, _dtype in self._FIELDS:
                getattr(self, f"_{name}").resize(size, refcheck=False)
        self._kind[start:end] = self.kinds.index(kind)
        self._index[start:end] = index
        self._layer[start:end] = layer
        self._slot[start:end] = -1 if slot is None else np.atleast_1d(slot)
        self._count = end
        return np.arange(start, end, dtype=np.int64)

    def trim(self) -> None:
        """Release unused capacity."""
        for name, _dtype in self._FIELDS:
            getattr(self, f"_{name}").resize(max(self._count, 1), refcheck=False)

    def describe(self, block_id: int) -> str:
        """Return a label such as ``"step 3"`` or ``"layer 1 combine 2"``."""
        name = f"{self.kinds[self.kind[block_id]]} {int(self.index[block_id])}"
        if self.slot[block_id] >= 0:
            name = f"{name} slot {int(self.slot[block_id])}"
        if self.layer[block_id]:
            name = f"layer {int(self.layer[block_id])} {name}"
        return name


class Circuit:
    """An arithmetic or boolean circuit under construction or finished.

    Parameters
    ----------
    fold : bool
        Apply the build-time rewrites listed in the module docstring.
    capacity : int
        Number of nodes to allocate up front. A good estimate keeps peak memory at
        the final size, because growing copies the arrays.
    edge_capacity : int, optional
        Number of operand slots to allocate up front (default ``2 * capacity``).

    Examples
    --------
    >>> c = Circuit()
    >>> x = c.add_input("x", (2,))
    >>> y = c.mul(x[0], c.add(x[1], c.const(1)))
    >>> c.set_output("y", y)
    >>> c.num_gates, c.max_depth()
    (2, 2)
    """

    def __init__(self, *, fold: bool = True, capacity: int = 1024, edge_capacity=None):
        capacity = max(int(capacity), 16)
        edge_capacity = max(int(edge_capacity or 2 * capacity), 16)
        self.fold = fold
        self._n = 0
        self._e = 0
        self._op = np.zeros(capacity, dtype=np.uint8)
        # Operand pointers are uint32 while the operand count fits (4 bytes per node
        # instead of 8) and switch to int64 when it does not.
        self._ptr = np.zeros(
            capacity + 1, dtype=np.uint32 if edge_capacity < _UINT32_LIMIT else _INDEX
        )
        self._fanin = np.zeros(edge_capacity, dtype=np.int32)
        self._depth = np.zeros(capacity, dtype=np.int32)
        self._nl = np.zeros(capacity, dtype=np.int32)
        self._block = np.zeros(capacity, dtype=np.int32)
        self._batch_starts = np.zeros(256, dtype=_INDEX)
        self._num_batches = 0
        self._const_node: dict = {}
        self.const_value: dict[int, object] = {}
        self.zero_node = -1
        self.one_node = -1
        self.inputs: dict[str, np.ndarray] = {}
        self.outputs: dict[str, np.ndarray] = {}
        self.blocks = BlockTable()
        self.current_block = -1
        self.meta: dict = {"folding": fold}

    # ------------------------------------------------------------------ storage

    @property
    def num_nodes(self) -> int:
        """Number of nodes: inputs, constants and operation gates."""
        return self._n

    @property
    def num_edges(self) -> int:
        """Number of operand slots over all gates."""
        return self._e

    @property
    def op(self) -> np.ndarray:
        return self._op[: self._n]

    @property
    def fanin_ptr(self) -> np.ndarray:
        return self._ptr[: self._n + 1]

    @property
    def fanin(self) -> np.ndarray:
        return self._fanin[: self._e]

    @property
    def depth(self) -> np.ndarray:
        return self._depth[: self._n]

    @property
    def nonlinear_depth(self) -> np.ndarray:
        return self._nl[: self._n]

    @property
    def block(self) -> np.ndarray:
        return self._block[: self._n]

    @property
    def batch_starts(self) -> np.ndarray:
        """First node of each batch; batch ``k`` ends where batch ``k + 1`` starts."""
        return self._batch_starts[: self._num_batches]

    @property
    def num_inputs(self) -> int:
        return int(sum(ids.size for ids in self.inputs.values()))

    @property
    def num_consts(self) -> int:
        return len(self.const_value)

    @property
    def num_gates(self) -> int:
        """Number of operation gates (inputs and constants excluded)."""
        return self._n - self.num_inputs - self.num_consts

    def max_depth(self) -> int:
        """Return the depth of the deepest output node (0 without outputs)."""
        ids = self.output_ids()
        return int(self.depth[ids].max()) if ids.size else 0

    def output_ids(self) -> np.ndarray:
        """Return the node ids of all outputs, concatenated in insertion order."""
        if not self.outputs:
            return np.zeros(0, dtype=_INDEX)
        return np.concatenate([ids.ravel() for ids in self.outputs.values()])

    def nbytes(self) -> int:
        """Return the bytes held by the used part of the per-node and per-edge arrays."""
        per_node = (
            self._op.itemsize
            + self._ptr.itemsize
            + self._depth.itemsize
            + self._nl.itemsize
            + self._block.itemsize
        )
        return self._n * per_node + self._e * self._fanin.itemsize

    def reserve(self, nodes: int, edges: int | None = None) -> None:
        """Grow the arrays so that ``nodes`` more nodes and ``edges`` more operand slots fit."""
        edges = 2 * nodes if edges is None else edges
        self._ensure(int(nodes), int(edges), exact=True)

    def _ensure(self, new_nodes: int, new_edges: int, exact: bool = False) -> None:
        need_n = self._n + new_nodes
        if need_n > len(self._op):
            size = need_n if exact else max(need_n, int(len(self._op) * _GROWTH))
            for name in ("_op", "_depth", "_nl", "_block"):
                getattr(self, name).resize(size, refcheck=False)
            self._ptr.resize(size + 1, refcheck=False)
        need_e = self._e + new_edges
        if need_e > len(self._fanin):
            size = need_e if exact else max(need_e, int(len(self._fanin) * _GROWTH))
            if size >= _UINT32_LIMIT and self._ptr.dtype == np.uint32:
                self._ptr = self._ptr.astype(_INDEX)
            self._fanin.resize(size, refcheck=False)
        if need_n >= 2**31 - 1:
            raise CompileError(
                f"circuit would have {need_n} nodes; at most 2**31 - 2 are supported"
            )

    def trim(self) -> None:
        """Release unused capacity (call when the circuit is finished)."""
        for name in ("_op", "_depth", "_nl", "_block"):
            getattr(self, name).resize(max(self._n, 1), refcheck=False)
        self._ptr.resize(self._n + 1, refcheck=False)
        self._fanin.resize(max(self._e, 1), refcheck=False)
        self._batch_starts.resize(max(self._num_batches, 1), refcheck=False)
        self.blocks.trim()

    def _record_batches(self, starts: np.ndarray) -> None:
        need = self._num_batches + len(starts)
        if need > len(self._batch_starts):
            self._batch_starts.resize(
                max(need, int(len(self._batch_starts) * 2)), refcheck=False
            )
        self._batch_starts[self._num_batches : need] = starts
        self._num_batches = need

    # ------------------------------------------------------------------ display

    def render(self, path, **options):
        """Draw the circuit with Graphviz; see :func:`circuitlab.render.render_circuit`."""
        from circuitlab.render import render_circuit

        return render_circuit(self, path, **options)

    def _repr_svg_(self):
        from circuitlab.render import repr_svg

        return repr_svg(self)

    # ------------------------------------------------------------------ blocks

    @contextlib.contextmanager
    def block_scope(self, kind: str, index=0, layer: int = 0, slot=None) -> Iterator:
        """Label the gates appended inside the ``with`` body.

        With a scalar ``index`` all gates go to one new block. With an array of
        indices (one per row of a batch, for example one per position t), each row
        of every array built in the body gets its own block.
        """
        scalar = np.ndim(index) == 0
        ids = self.blocks.add(kind, index, layer, slot)
        previous = self.current_block
        self.current_block = int(ids[0]) if scalar else ids
        try:
            yield self.current_block
        finally:
            self.current_block = previous

    # ------------------------------------------------------------------ leaves

    def add_input(self, name: str, shape) -> np.ndarray:
        """Append an input group of the given shape and return its node ids."""
        if name in self.inputs:
            raise CompileError(f"input group {name!r} already exists")
        shape = tuple(int(s) for s in np.atleast_1d(shape)) if shape != () else ()
        count = int(np.prod(shape)) if shape else 1
        ids = self._append_leaves(Op.INPUT, count)
        self.inputs[name] = ids.reshape(shape)
        return self.inputs[name]

    def const(self, value) -> int:
        """Return the node of an exact constant (created once per distinct value)."""
        value = parse_rational(value)
        key = (int(value.numerator), int(value.denominator))
        node = self._const_node.get(key)
        if node is None:
            node = int(self._append_leaves(Op.CONST, 1)[0])
            self._const_node[key] = node
            self.const_value[node] = value
            if key == (0, 1):
                self.zero_node = node
            elif key == (1, 1):
                self.one_node = node
        return node

    def consts(self, values) -> np.ndarray:
        """Return an array of constant nodes with the shape of ``values``."""
        values = np.asarray(values, dtype=object)
        out = np.empty(values.shape, dtype=_INDEX)
        for index, value in np.ndenumerate(values):
            out[index] = self.const(value)
        return out

    def _append_leaves(self, op: Op, count: int) -> np.ndarray:
        self._ensure(count, 0)
        start = self._n
        end = start + count
        self._op[start:end] = op
        self._ptr[start + 1 : end + 1] = self._e
        self._depth[start:end] = 0
        self._nl[start:end] = 0
        self._block[start:end] = -1
        self._n = end
        self._record_batches(np.array([start], dtype=_INDEX))
        return np.arange(start, end, dtype=_INDEX)

    def set_output(self, name: str, ids) -> None:
        """Name a group of nodes as an output; ``ids`` keeps its shape."""
        self.outputs[name] = np.asarray(ids, dtype=_INDEX)

    # ------------------------------------------------------------------ appending

    def append_gates(self, op: Op, operands: np.ndarray, blocks=None) -> np.ndarray:
        """Append ``len(operands)`` gates of a fixed-arity opcode, one batch, no rewrites.

        ``operands`` has shape ``(count, arity)``; row ``k`` lists the operands of
        gate ``k``. ``blocks`` gives one block id per gate (default: the current
        block). Returns the new node ids.
        """
        operands = np.asarray(operands, dtype=_INDEX)
        count, arity = operands.shape
        if count == 0:
            return np.zeros(0, dtype=_INDEX)
        if operands.size and operands.max() >= self._n:
            raise CompileError("operand refers to a node that does not exist yet")
        self._ensure(count, count * arity)
        start, end = self._n, self._n + count
        estart = self._e
        self._op[start:end] = op
        self._ptr[start + 1 : end + 1] = estart + arity * np.arange(
            1, count + 1, dtype=_INDEX
        )
        self._fanin[estart : estart + count * arity] = operands.ravel()
        depth = self._depth[operands].max(axis=1) + 1
        self._depth[start:end] = depth
        self._nl[start:end] = self._nl[operands].max(axis=1) + NONLINEAR_MASK[op]
        self._block[start:end] = self.current_block if blocks is None else blocks
        self._n = end
        self._e = estart + count * arity
        self._record_batches(np.array([start], dtype=_INDEX))
        return np.arange(start, end, dtype=_INDEX)

    def append_varargs(
        self, op: Op, lengths: np.ndarray, flat: np.ndarray
    ) -> np.ndarray:
        """Append gates of unbounded fan-in (CSR): gate k reads ``lengths[k]`` operands."""
        lengths = np.asarray(lengths, dtype=_INDEX)
        flat = np.asarray(flat, dtype=_INDEX)
        count = len(lengths)
        if count == 0:
            return np.zeros(0, dtype=_INDEX)
        if (lengths < 1).any():
            raise CompileError("a gate needs at least one operand")
        self._ensure(count, len(flat))
        start, end = self._n, self._n + count
        estart = self._e
        ptr = estart + np.concatenate([[0], np.cumsum(lengths)])
        self._op[start:end] = op
        self._ptr[start + 1 : end + 1] = ptr[1:]
        self._fanin[estart : estart + len(flat)] = flat
        offsets = ptr[:-1] - estart
        self._depth[start:end] = np.maximum.reduceat(self._depth[flat], offsets) + 1
        self._nl[start:end] = (
            np.maximum.reduceat(self._nl[flat], offsets) + NONLINEAR_MASK[op]
        )
        self._block[start:end] = self._blocks_for((count,), np.arange(count))
        self._n = end
        self._e = estart + len(flat)
        self._record_batches(np.array([start], dtype=_INDEX))
        return np.arange(start, end, dtype=_INDEX)

    # ------------------------------------------------------------------ builders

    def _is_const(self, ids: np.ndarray) -> np.ndarray:
        return self._op[ids] == Op.CONST

    def _binary(self, op: Op, a, b) -> np.ndarray:
        a, b = np.broadcast_arrays(
            np.asarray(a, dtype=_INDEX), np.asarray(b, dtype=_INDEX)
        )
        shape = a.shape
        a = a.ravel()
        b = b.ravel()
        folding = (
            self.fold
            and a.size
            and bool(self.const_value)
            and (self._is_const(a).any() or self._is_const(b).any())
        )
        if not folding:
            # Nothing to rewrite: every element becomes a gate.
            return self._append_pairs(
                op, a, b, self._blocks_for(shape, slice(None), a.size)
            ).reshape(shape)
        out = np.full(a.shape, -1, dtype=_INDEX)
        self._fold_binary(op, a, b, out)
        todo = np.flatnonzero(out < 0)
        if todo.size:
            out[todo] = self._append_pairs(
                op, a[todo], b[todo], self._blocks_for(shape, todo)
            )
        return out.reshape(shape)

    def _append_pairs(self, op: Op, a: np.ndarray, b: np.ndarray, blocks) -> np.ndarray:
        """Append one batch of fan-in-2 gates ``op(a[k], b[k])`` without temporaries."""
        count = len(a)
        self._ensure(count, 2 * count)
        start, end = self._n, self._n + count
        estart, eend = self._e, self._e + 2 * count
        self._op[start:end] = op
        self._ptr[start + 1 : end + 1] = np.arange(
            estart + 2, eend + 1, 2, dtype=_INDEX
        )
        self._fanin[estart:eend:2] = a
        self._fanin[estart + 1 : eend : 2] = b
        depth = self._depth[start:end]
        np.maximum(self._depth[a], self._depth[b], out=depth)
        depth += 1
        nonlinear = self._nl[start:end]
        np.maximum(self._nl[a], self._nl[b], out=nonlinear)
        nonlinear += NONLINEAR_MASK[op]
        self._block[start:end] = self.current_block if blocks is None else blocks
        self._n = end
        self._e = eend
        self._record_batches(np.array([start], dtype=_INDEX))
        return np.arange(start, end, dtype=_INDEX)

    def _fold_binary(
        self, op: Op, a: np.ndarray, b: np.ndarray, out: np.ndarray
    ) -> None:
        zero, one = self.zero_node, self.one_node
        if op in (Op.MUL, Op.AND):
            out[(a == zero) | (b == zero)] = zero if zero >= 0 else -1
            out[(out < 0) & (a == one)] = b[(out < 0) & (a == one)]
            out[(out < 0) & (b == one)] = a[(out < 0) & (b == one)]
        elif op in (Op.ADD, Op.XOR):
            out[a == zero] = b[a == zero]
            out[(out < 0) & (b == zero)] = a[(out < 0) & (b == zero)]
        elif op == Op.SUB:
            out[b == zero] = a[b == zero]
        elif op == Op.OR:
            out[(a == one) | (b == one)] = one if one >= 0 else -1
            out[(out < 0) & (a == zero)] = b[(out < 0) & (a == zero)]
            out[(out < 0) & (b == zero)] = a[(out < 0) & (b == zero)]
        both = np.flatnonzero((out < 0) & self._is_const(a) & self._is_const(b))
        for k in both:
            x = self.const_value[int(a[k])]
            y = self.const_value[int(b[k])]
            out[k] = self.const(_apply_exact(op, x, y))

    def _unary(self, op: Op, a) -> np.ndarray:
        a = np.asarray(a, dtype=_INDEX)
        shape = a.shape
        a = a.ravel()
        out = np.full(a.shape, -1, dtype=_INDEX)
        if self.fold and a.size and op not in FLOAT_ONLY:
            for k in np.flatnonzero(self._is_const(a)):
                out[k] = self.const(_apply_exact(op, self.const_value[int(a[k])]))
        todo = np.flatnonzero(out < 0)
        if todo.size:
            out[todo] = self.append_gates(
                op, a[todo, None], self._blocks_for(shape, todo)
            )
        return out.reshape(shape)

    def _blocks_for(self, shape: tuple, flat_index, size: int | None = None):
        """Return the block id of each new gate: one per row of the leading axis.

        ``current_block`` is either one block id or an array with one id per entry of
        the leading (batch) axis of every array built inside the scope.
        """
        labels = self.current_block
        if np.ndim(labels) == 0:
            return labels
        if not shape or shape[0] != len(labels):
            raise CompileError(
                f"block labels for {len(labels)} rows do not match an array of shape {shape}"
            )
        per_row = max(int(np.prod(shape[1:])), 1)
        if isinstance(flat_index, slice):
            return np.repeat(labels, per_row)
        return labels[flat_index // per_row]

    def add(self, a, b) -> np.ndarray:
        """Append ``a + b`` elementwise (numpy broadcasting) and return the result nodes."""
        return self._binary(Op.ADD, a, b)

    def sub(self, a, b) -> np.ndarray:
        """Append ``a - b`` elementwise."""
        return self._binary(Op.SUB, a, b)

    def mul(self, a, b) -> np.ndarray:
        """Append ``a * b`` elementwise."""
        return self._binary(Op.MUL, a, b)

    def logical_and(self, a, b) -> np.ndarray:
        """Append ``a AND b`` on 0/1 values (equal to ``a * b`` over Q)."""
        return self._binary(Op.AND, a, b)

    def logical_or(self, a, b) -> np.ndarray:
        """Append ``a OR b`` on 0/1 values (equal to ``a + b - a b`` over Q)."""
        return self._binary(Op.OR, a, b)

    def logical_xor(self, a, b) -> np.ndarray:
        """Append ``a XOR b`` on 0/1 values."""
        return self._binary(Op.XOR, a, b)

    def logical_not(self, a) -> np.ndarray:
        """Append ``NOT a`` on 0/1 values (``1 - a`` over Q)."""
        return self._unary(Op.NOT, a)

    def neg(self, a) -> np.ndarray:
        """Append ``-a``."""
        return self._unary(Op.NEG, a)

    def relu(self, a) -> np.ndarray:
        """Append ``max(a, 0)``."""
        return self._unary(Op.RELU, a)

    def step(self, a) -> np.ndarray:
        """Append the positive threshold ``1 if a > 0 else 0``."""
        return self._unary(Op.STEP, a)

    def activation(self, name: str, a) -> np.ndarray:
        """Append an activation by name: relu, step, tanh, sigmoid or identity."""
        ops = {"relu": Op.RELU, "step": Op.STEP, "tanh": Op.TANH, "sigmoid": Op.SIGMOID}
        if name in ("identity", "none", "linear"):
            return np.asarray(a, dtype=_INDEX)
        return self._unary(ops[name], a)

    def sum(self, x, axis: int = -1) -> np.ndarray:
        """Sum along ``axis`` with a balanced tree of fan-in-2 additions.

        Each level of the tree is one batch; the depth added is ``ceil(log2 m)`` for
        ``m`` terms. An empty axis sums to the constant 0.
        """
        x = np.moveaxis(np.asarray(x, dtype=_INDEX), axis, -1)
        if x.shape[-1] == 0:
            return np.full(x.shape[:-1], self.const(0), dtype=_INDEX)
        while x.shape[-1] > 1:
            m = x.shape[-1]
            pairs = self.add(x[..., 0 : m - 1 : 2], x[..., 1:m:2])
            if m % 2:
                pairs = np.concatenate([pairs, x[..., m - 1 :]], axis=-1)
            x = pairs
        return x[..., 0]

    def dot(self, x, y, axis: int = -1) -> np.ndarray:
        """Append ``sum(x * y)`` along ``axis`` (broadcasting the rest)."""
        return self.sum(self.mul(x, y), axis=axis)

    def matmul(self, a, b) -> np.ndarray:
        """Append the matrix product of node arrays ``a (..., p, q)`` and ``b (..., q, r)``."""
        a = np.asarray(a, dtype=_INDEX)
        b = np.asarray(b, dtype=_INDEX)
        products = self.mul(a[..., :, :, None], b[..., None, :, :])
        return self.sum(products, axis=-2)

    def vecmat(self, v, m) -> np.ndarray:
        """Append the row-vector product ``v (..., q) @ m (..., q, r)``."""
        v = np.asarray(v, dtype=_INDEX)
        m = np.asarray(m, dtype=_INDEX)
        return self.sum(self.mul(v[..., :, None], m), axis=-2)

    def linear(self, weights, x, bias=None) -> np.ndarray:
        """Append ``W x + c`` for an exact weight matrix ``W (p, q)`` and nodes ``x (..., q)``.

        Weights and bias are exact rationals turned into constants, so zero weights
        cost nothing when folding is on.
        """
        w = self.consts(weights)
        y = self.sum(self.mul(w, np.asarray(x, dtype=_INDEX)[..., None, :]), axis=-1)
        if bias is not None:
            y = self.add(y, self.consts(bias))
        return y


def _apply_exact(op: Op, x, y=None):
    """Evaluate one opcode on exact constants (used by constant folding)."""
    if op == Op.ADD:
        return x + y
    if op == Op.SUB:
        return x - y
    if op in (Op.MUL, Op.AND):
        return x * y
    if op == Op.OR:
        return x + y - x * y
    if op == Op.XOR:
        return x + y - 2 * x * y
    if op == Op.NEG:
        return -x
    if op == Op.NOT:
        return 1 - x
    if op == Op.RELU:
        return x if x > 0 else mpq(0)
    if op == Op.STEP:
        return mpq(1) if x > 0 else mpq(0)
    raise CompileError(f"cannot fold opcode {Op(op).name}")
