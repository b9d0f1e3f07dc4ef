"""Reading per-token transition tables (``[transitions.TOKEN]``) of linear-family specs."""

from __future__ import annotations

import numpy as np

from circuitlab.rational import mpq

__all__ = ["read_transitions", "stack_tokens", "identity", "outer", "KeyTracker"]


def read_transitions(table: dict, alphabet, problems, read_token) -> dict:
    """Validate ``[transitions.TOKEN]`` for every token and return token -> parameters.

    ``read_token(subtable, where)`` reads one token's keys (recording problems) and
    returns a dict of exact arrays, or None where something was invalid.
    """
    transitions = table.get("transitions")
    if not isinstance(transitions, dict):
        problems.add(
            "transitions", "missing table with one [transitions.TOKEN] per token"
        )
        return {}
    out = {}
    for token in alphabet:
        if token not in transitions or not isinstance(transitions[token], dict):
            problems.add(
                f"transitions.{token}", "missing (every alphabet token needs one)"
            )
            continue
        table_read = KeyTracker(transitions[token])
        out[token] = read_token(table_read, f"transitions.{token}.")
        table_read.report_unknown(problems, f"transitions.{token}.")
    for token in transitions:
        if token not in alphabet:
            problems.add(f"transitions.{token}", "token is not in the alphabet")
    return out


class KeyTracker(dict):
    """A dict that records which keys were looked up, to report unknown ones."""

    def __init__(self, table: dict):
        super().__init__(table)
        self.seen: set = set()

    def __contains__(self, key) -> bool:
        self.seen.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def report_unknown(self, problems, where: str) -> None:
        known = ", ".join(sorted(str(k) for k in self.seen))
        for key in self:
            if key not in self.seen:
                problems.add(f"{where}{key}", f"unknown key (known: {known})")


def stack_tokens(params: dict, key: str, alphabet) -> np.ndarray:
    """Stack one parameter over the tokens in alphabet order: ``(tokens, *shape)``."""
    return np.stack(
        [np.asarray(params[token][key], dtype=object) for token in alphabet]
    )


def identity(dim: int) -> np.ndarray:
    out = np.full((dim, dim), mpq(0), dtype=object)
    for i in range(dim):
        out[i, i] = mpq(1)
    return out


def outer(u, v) -> np.ndarray:
    return np.array([[a * b for b in v] for a in u], dtype=object)
