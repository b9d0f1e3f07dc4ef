"""What every model provides to the compiler: inputs, one step, a readout, a reference.

A model reads x_1..x_n and updates a state ``h_t = F(h_{t-1}, x_t)`` (a row vector of
length D). The compiler never looks inside F: it calls the model to emit one step (or,
for linear models, all n step maps at once) as gates. The model's
:meth:`~RecurrentModel.reference_states` is the oracle: a plain loop over exact
rationals that never touches the circuit code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from circuitlab.errors import EvaluationError
from circuitlab.rational import mpq

__all__ = ["RecurrentModel", "onehot_rows", "exact_array"]


def exact_array(values, shape=None) -> np.ndarray:
    """Return an object array of exact rationals."""
    out = np.empty(np.shape(values), dtype=object)
    for index, value in np.ndenumerate(np.asarray(values, dtype=object)):
        out[index] = mpq(value)
    return out if shape is None else out.reshape(shape)


def onehot_rows(indices: Sequence[int], width: int) -> np.ndarray:
    """Return an ``(len(indices), width)`` int array of one-hot rows."""
    rows = np.zeros((len(indices), width), dtype=np.int64)
    rows[np.arange(len(indices)), np.asarray(indices, dtype=np.int64)] = 1
    return rows


class RecurrentModel:
    """Base class: a recurrence over exact rationals that can emit its gates.

    Subclasses set ``name``, ``family``, ``state_dim``, ``is_linear`` and implement
    :meth:`add_inputs`, :meth:`step`, :meth:`encode` and :meth:`reference_states`.
    """

    name: str = "model"
    family: str = ""
    description: str = ""
    state_dim: int = 0
    is_linear: bool = False
    has_readout: bool = True
    spec = None

    # ------------------------------------------------------------ circuit side

    def add_inputs(self, c, n: int) -> np.ndarray:
        """Add the input groups for n positions; return per-position nodes ``(n, E)``."""
        raise NotImplementedError

    def initial_state(self, c) -> np.ndarray:
        """Return the nodes of h_0 (constants from the spec by default)."""
        return c.consts(self.spec.initial_state)

    def step(self, c, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Emit one step ``h' = F(h, x)`` for one position and return h'."""
        raise NotImplementedError

    def add_readout(self, c, h: np.ndarray) -> None:
        """Emit ``y = <h, w> + bias`` and ``accept = [y > 0]`` as outputs."""
        spec = self.spec
        with c.block_scope("readout", 0):
            y = c.linear(spec.readout_weights[None, :], h, [spec.readout_bias])
            c.set_output("readout", y)
            c.set_output("accept", c.step(y))

    # ------------------------------------------------------------ input side

    def tokenize(self, text: str | Sequence[str]) -> list[str]:
        """Split an input into tokens: a list as is, a string by spaces or characters.

        A string with whitespace inside (spaces, tabs, newlines) is split on
        whitespace; otherwise every character is a token, which works when every
        token of the alphabet is one character.
        """
        if not isinstance(text, str):
            tokens = list(text)
        elif any(character.isspace() for character in text.strip()):
            tokens = text.split()
        else:
            tokens = list(text.strip())
        alphabet = self.spec.alphabet
        known = set(alphabet)
        for position, token in enumerate(tokens):
            if token not in known:
                raise EvaluationError(
                    f"token {token!r} at position {position} is not in the alphabet of "
                    f"{self.name} ({' '.join(alphabet)})"
                )
        if not tokens:
            raise EvaluationError("empty input: give at least one token")
        return tokens

    def encode(self, tokens: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the circuit input values for a token sequence."""
        raise NotImplementedError

    def check_tokens(self, tokens: Sequence[str]) -> None:
        """Raise EvaluationError naming the first token outside the alphabet."""
        known = set(self.spec.alphabet)
        for position, token in enumerate(tokens):
            if token not in known:
                raise EvaluationError(
                    f"token {token!r} at position {position} is not in the alphabet of "
                    f"{self.name} ({' '.join(self.spec.alphabet)})"
                )

    # ------------------------------------------------------------ reference

    def reference_states(self, inputs) -> np.ndarray:
        """Return h_1..h_n as an ``(n, D)`` object array of exact rationals."""
        raise NotImplementedError

    def reference_readout(self, h_final) -> tuple[object, bool]:
        """Return ``(y, accepted)`` for a final state."""
        spec = self.spec
        y = sum((w * v for w, v in zip(spec.readout_weights, h_final)), mpq(0))
        y = y + spec.readout_bias
        return y, bool(y > 0)
