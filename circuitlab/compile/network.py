"""Apply a combine schedule (balanced tree or prefix network) to a batch of affine maps.

A schedule (:mod:`circuitlab.compile.schedules`) is a list of levels; each level is
a set of combines ``v[i] <- v[j] o v[i]`` (j < i) over n slots, all reading the
values from before the level. Every level becomes a few batches of gates: the
combines of a level are grouped by the forms of their two operands (for example a
DPLR map of rank 1 with one of rank 2) and each group is one vectorized
:func:`~circuitlab.compile.affine.combine`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from circuitlab.compile.affine import AffineMaps, combine

__all__ = ["SlotStore", "run_schedule"]

#: Gates emitted per batch, roughly: a wide level is split into chunks of combines
#: so that temporary arrays stay small next to the circuit.
_CHUNK_GATES = 1 << 16

#: Up to this many combines in a schedule, each combine gets its own block label;
#: above it, one block per batch of a level (``slot`` -1), which keeps the block
#: table small next to the gates.
BLOCK_DETAIL_LIMIT = 1 << 17


class SlotStore:
    """n slots, each holding one affine map; maps of one form share arrays."""

    def __init__(self, maps: AffineMaps):
        self.n = maps.count
        self.keys: list[tuple] = [maps.key]
        # Slots are written in place; copy only arrays that cannot be written, such
        # as broadcast views (the caller does not reuse the step maps).
        parts = {
            name: array
            if array.flags.writeable and array.dtype == np.int64
            else np.array(array, dtype=np.int64)
            for name, array in maps.parts.items()
        }
        self.storage: list[AffineMaps] = [AffineMaps(maps.form, parts)]
        self.form_of = np.zeros(self.n, dtype=np.int32)

    def _storage_for(self, template: AffineMaps) -> int:
        if template.key in self.keys:
            return self.keys.index(template.key)
        parts = {
            name: np.full((self.n,) + array.shape[1:], -1, dtype=np.int64)
            for name, array in template.parts.items()
        }
        self.keys.append(template.key)
        self.storage.append(AffineMaps(template.form, parts))
        return len(self.keys) - 1

    def get(self, slots: np.ndarray) -> list[tuple[np.ndarray, AffineMaps]]:
        """Return ``(positions, maps)`` groups that together cover ``slots``."""
        groups = []
        forms = self.form_of[slots]
        for form in np.unique(forms):
            positions = np.flatnonzero(forms == form)
            groups.append((positions, self.storage[form].take(slots[positions])))
        return groups

    def put(self, slots: np.ndarray, maps: AffineMaps) -> None:
        form = self._storage_for(maps)
        for name, array in maps.parts.items():
            self.storage[form].parts[name][slots] = array
        self.form_of[slots] = form


def run_schedule(
    c,
    maps: AffineMaps,
    levels,
    *,
    layer: int = 0,
    pd_combine: str = "structured",
    progress: Callable[[int], None] | None = None,
    total_combines: int | None = None,
) -> SlotStore:
    """Apply every level of a schedule and return the slots (prefixes or the total).

    ``levels`` may be a sequence or a generator (see
    :func:`~circuitlab.compile.schedules.iter_levels`); a generator lets the memory
    of each level go once it is applied; pass ``total_combines`` with one.
    """
    store = SlotStore(maps)
    dim = maps.state_dim
    chunk = max(64, _CHUNK_GATES // (2 * dim**3 + 3 * dim**2 + dim))
    if total_combines is None:
        levels = list(levels)
        total_combines = sum(len(level) for level in levels)
    detailed = total_combines <= BLOCK_DETAIL_LIMIT
    for level_number, pairs in enumerate(levels, start=1):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if not len(pairs):
            continue
        # A level's combines read the values from before the level, so every
        # operand is gathered before the first write. The combines themselves are
        # emitted in chunks, which bounds the temporary arrays of a wide level.
        targets, sources = pairs[:, 0], pairs[:, 1]
        jobs = []
        for left_pos, left in store.get(sources):
            for right_pos, right in store.get(targets[left_pos]):
                jobs.append((targets[left_pos[right_pos]], left.take(right_pos), right))
        for written, left, right in jobs:
            for lo in range(0, len(written), chunk):
                part = slice(lo, lo + chunk)
                if detailed:
                    scope = c.block_scope(
                        "combine",
                        np.full(len(written[part]), level_number),
                        layer,
                        slot=written[part],
                    )
                else:
                    scope = c.block_scope("combine", level_number, layer)
                with scope:
                    result = combine(c, left.take(part), right.take(part), pd_combine)
                store.put(written[part], result)
        if progress:
            progress(len(pairs))
    return store
