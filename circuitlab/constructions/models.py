"""Construction models for sweeps and claims: the spec's model plus an input generator.

``circuitlab check`` and ``circuitlab sweep`` accept ``MODULE:ATTR`` model factories,
so a claim can name ``circuitlab.constructions:construction_model`` with
``params = { name = "cvp-stack" }``. The returned model is the ordinary
:class:`~circuitlab.models.nonlinear.MlpModel` of the construction spec with two
additions:

- ``generate_input(n, rng)``: the tokens of a random instance of size ``n``
  (see :func:`circuitlab.constructions.input_generator`), which the precision
  metric uses instead of random tokens.
- ``reference_states`` on token lists runs :class:`~circuitlab.constructions.
  evaluation.SparseMlp`, which returns the same exact states as the
  ``MlpModel`` loop (the tests compare them) several times faster. Input dicts
  still go through the ``MlpModel`` loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from circuitlab.constructions.evaluation import SparseMlp
from circuitlab.models.nonlinear import MlpModel

logger = logging.getLogger(__name__)

__all__ = ["ConstructionModel", "construction_model"]


class ConstructionModel(MlpModel):
    """An ``mlp`` construction model with an instance generator and a fast reference.

    Parameters
    ----------
    spec : circuitlab.spec.Spec
        The construction's spec.
    generator : callable
        ``generator(n, rng) -> list[str]``, the tokens of a random instance.
    """

    def __init__(
        self, spec, generator: Callable[[int, np.random.Generator], list[str]]
    ):
        super().__init__(spec)
        self._generator = generator
        self._sparse = SparseMlp(spec)

    def generate_input(self, n: int, rng: np.random.Generator) -> list[str]:
        """Return the tokens of a random instance of size ``n``."""
        return self._generator(n, rng)

    def reference_states(self, inputs) -> np.ndarray:
        """Return h_1..h_n exactly; token lists take the sparse exact path."""
        if isinstance(inputs, dict):
            return super().reference_states(inputs)
        tokens = list(inputs)
        states = self._sparse.run(tokens, record=True).states
        out = np.empty((len(tokens), self.state_dim), dtype=object)
        for row, state in enumerate(states):
            out[row, :] = state
        return out


def construction_model(name: str = "connectivity-counter") -> ConstructionModel:
    """Return the model of a construction spec with its instance generator.

    Parameters
    ----------
    name : {"connectivity-counter", "cvp-stack"}
        The construction.

    Examples
    --------
    >>> model = construction_model("cvp-stack")
    >>> tokens = model.generate_input(3, np.random.default_rng(0))
    >>> model.reference_readout(model.reference_states(tokens)[-1])[1] in (True, False)
    True
    """
    from circuitlab.constructions import input_generator
    from circuitlab.constructions.verify import construction_spec

    return ConstructionModel(construction_spec(name), input_generator(name))
