"""Save and load circuits as ``.npz`` files with embedded JSON metadata.

The archive holds the per-node arrays (``op``, ``fanin_ptr``, ``fanin``, ``depth``,
``nonlinear_depth``, ``block``, ``batch_starts``), the constant table (node ids and
``"p/q"`` strings), the input and output groups, the block table and a ``metadata``
entry: a JSON document with ``format``, ``version``, the circuit's ``meta`` and the
group shapes. Files are written to a temporary name and renamed, so a file at the
target path is always complete.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from circuitlab.circuit.ir import BlockTable, Circuit
from circuitlab.circuit.ops import Op
from circuitlab.errors import FormatError
from circuitlab.rational import parse_rational, rational_str

__all__ = [
    "save_circuit",
    "load_circuit",
    "write_atomic",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "circuitlab-circuit"
FORMAT_VERSION = 1


def write_atomic(path: str | Path, writer) -> None:
    """Call ``writer(temporary_path)``, then rename the temporary file to ``path``.

    The temporary file is created in the target directory, so the rename is
    atomic on POSIX file systems. On any error the temporary file is removed and
    ``path`` keeps its old content.

    Raises
    ------
    FormatError
        If the directory is missing, ``path`` is a directory, or the file system
        fails while writing.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FormatError(
            f"cannot write {path}: directory {directory} not found; create it first"
        )
    if path.is_dir():
        raise FormatError(f"cannot write {path}: it is a directory")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=directory
        )
    except OSError as error:
        raise FormatError(
            f"cannot write {path}: {error.strerror or error}; choose a writable directory"
        ) from None
    os.close(handle)
    try:
        writer(temporary)
        # mkstemp creates the file with mode 0600; give it the usual mode instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise FormatError(
                f"cannot write {path}: {error.strerror or error}"
            ) from None
        raise


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def save_circuit(circuit: Circuit, path: str | Path) -> None:
    """Write ``circuit`` to ``path`` (``.npz``), completely or not at all."""
    const_nodes = np.array(sorted(circuit.const_value), dtype=np.int64)
    metadata = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "meta": _json_safe(circuit.meta),
        "inputs": {name: list(ids.shape) for name, ids in circuit.inputs.items()},
        "outputs": {name: list(ids.shape) for name, ids in circuit.outputs.items()},
        "block_kinds": list(circuit.blocks.kinds),
        "constants": [rational_str(circuit.const_value[int(n)]) for n in const_nodes],
    }
    arrays = {
        "op": circuit.op,
        "fanin_ptr": circuit.fanin_ptr,
        "fanin": circuit.fanin,
        "depth": circuit.depth,
        "nonlinear_depth": circuit.nonlinear_depth,
        "block": circuit.block,
        "batch_starts": circuit.batch_starts,
        "const_nodes": const_nodes,
        "block_kind": circuit.blocks.kind,
        "block_index": circuit.blocks.index,
        "block_layer": circuit.blocks.layer,
        "block_slot": circuit.blocks.slot,
        "metadata": np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8),
    }
    for name, ids in circuit.inputs.items():
        arrays[f"input:{name}"] = ids
    for name, ids in circuit.outputs.items():
        arrays[f"output:{name}"] = ids

    def writer(temporary):
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)

    write_atomic(path, writer)


def load_circuit(path: str | Path) -> Circuit:
    """Read a circuit written by :func:`save_circuit`.

    Raises
    ------
    FormatError
        If the file is missing, not an npz archive, or not a circuitlab circuit.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"circuit file {path} not found")
    try:
        archive = np.load(path, allow_pickle=False)
        metadata = json.loads(bytes(archive["metadata"]).decode())
    except (
        OSError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
    ) as error:
        raise FormatError(
            f"{path} is not a circuitlab circuit file ({error}); write one with "
            "`circuitlab compile ... --out FILE.npz`"
        ) from None
    if metadata.get("format") != FORMAT_NAME:
        raise FormatError(f"{path}: unknown format {metadata.get('format')!r}")
    if metadata.get("version") != FORMAT_VERSION:
        raise FormatError(
            f"{path}: format version {metadata.get('version')} is not supported "
            f"(this circuitlab reads version {FORMAT_VERSION})"
        )
    try:
        return _rebuild(archive, metadata)
    except (KeyError, ValueError, IndexError) as error:
        raise FormatError(f"{path}: damaged circuit file ({error})") from None


def _rebuild(archive, metadata) -> Circuit:
    op = archive["op"]
    c = Circuit(fold=bool(metadata["meta"].get("folding", True)), capacity=len(op))
    n = len(op)
    c._op = op.copy()
    c._ptr = archive["fanin_ptr"].copy()
    c._fanin = archive["fanin"].copy()
    c._depth = archive["depth"].copy()
    c._nl = archive["nonlinear_depth"].copy()
    c._block = archive["block"].copy()
    c._n = n
    c._e = len(c._fanin)
    c._batch_starts = archive["batch_starts"].copy()
    c._num_batches = len(c._batch_starts)
    if len(c._ptr) != n + 1 or int(c._ptr[-1]) != c._e:
        raise ValueError("operand pointers do not match the operand array")
    if n and int(op.max()) >= len(Op):
        raise ValueError(f"unknown opcode {int(op.max())}")
    lengths = np.diff(c._ptr.astype(np.int64))
    if (lengths < 0).any():
        raise ValueError("operand pointers decrease")
    readers = np.repeat(np.arange(n, dtype=np.int64), lengths)
    if c._e and not (c._fanin.astype(np.int64) < readers).all():
        raise ValueError(
            "an operand does not precede its gate (not in topological order)"
        )
    for node, text in zip(archive["const_nodes"], metadata["constants"]):
        value = parse_rational(text)
        c.const_value[int(node)] = value
        c._const_node[(int(value.numerator), int(value.denominator))] = int(node)
        if value == 0:
            c.zero_node = int(node)
        elif value == 1:
            c.one_node = int(node)
    c.blocks = BlockTable(
        kinds=list(metadata["block_kinds"]),
        kind=archive["block_kind"].copy(),
        index=archive["block_index"].copy(),
        layer=archive["block_layer"].copy(),
        slot=archive["block_slot"].copy(),
    )
    for name in metadata["inputs"]:
        c.inputs[name] = archive[f"input:{name}"].copy()
    for name in metadata["outputs"]:
        c.outputs[name] = archive[f"output:{name}"].copy()
    c.meta = dict(metadata["meta"])
    return c
