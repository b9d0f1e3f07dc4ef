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


class SlotStore:
    """n slots, each holding one affine map; maps of one form share arrays."""

    def __init__(self, maps: AffineMaps):
        self.n = maps.count
        self.keys: list[tuple] = [maps.key]
        # Copy: the caller's arrays may be read-only broadcast views.
        parts = {name: np.array(array, dtype=np.int64) for name, array in maps.parts.items()}
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
) -> SlotStore:
    """Apply every level of a schedule and return the slots (prefixes or the total)."""
    store = SlotStore(maps)
    for level_number, pairs in enumerate(levels, start=1):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if not len(pairs):
            continue
        targets, sources = pairs[:, 0], pairs[:, 1]
        # Read every operand before writing any result: a level's combines see
        # the values from before the level.
        jobs = []
        for left_pos, left in store.get(sources):
            for right_pos, right in store.get(targets[left_pos]):
                chosen = left_pos[right_pos]
                jobs.append((chosen, left.take(right_pos), right))
        for chosen, left, right in jobs:
            index = np.full(len(chosen), level_number)
            with c.block_scope("combine", index, layer, slot=targets[chosen]):
                result = combine(c, left, right, pd_combine)
            store.put(targets[chosen], result)
        if progress:
            progress(len(pairs))
    return store
