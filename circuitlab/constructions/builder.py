"""Builder for one-hidden-layer ReLU MLP specs with named coordinates.

A construction names its state coordinates and input tokens, defines hidden units
as ``ReLU(affine form)`` over those names, and writes each next-state coordinate as
an affine combination of hidden units. :meth:`ReluLayerBuilder.spec` turns that into
an ``mlp`` spec table (see :mod:`circuitlab.models.nonlinear`) with exact weights:
layer 0 reads ``[h, x]`` (state then one-hot token) and applies ReLU, layer 1 is the
identity layer that writes the next state.

Identical hidden units (same weights and bias) are created once, so gadgets can ask
for the same unit from several places without growing the layer.

Example
-------
>>> b = ReluLayerBuilder(["count"], ["a"])
>>> unit = b.relu(b.var("count") + b.token("a"))
>>> b.set_output("count", unit)
>>> b.spec(name="demo", initial={}, readout={"count": 1}, readout_bias=0)["layers"][0]
{'weight': [[1, 1]], 'bias': [0], 'activation': 'relu'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from circuitlab.errors import SpecError

__all__ = ["Affine", "UnitSum", "ReluLayerBuilder", "conjunction", "rational_entry"]

Number = int | Fraction


def _fraction(value: Number) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value)


@dataclass(frozen=True)
class Affine:
    """Affine form ``sum(coef * column) + const`` over named input columns."""

    terms: tuple[tuple[str, Fraction], ...] = ()
    const: Fraction = Fraction(0)

    @staticmethod
    def of(terms: Mapping[str, Number], const: Number = 0) -> Affine:
        cleaned = {name: _fraction(c) for name, c in terms.items() if c != 0}
        return Affine(tuple(sorted(cleaned.items())), _fraction(const))

    def as_dict(self) -> dict[str, Fraction]:
        return dict(self.terms)

    def __add__(self, other: Affine | Number) -> Affine:
        if not isinstance(other, Affine):
            return Affine(self.terms, self.const + _fraction(other))
        merged = self.as_dict()
        for name, coef in other.terms:
            merged[name] = merged.get(name, Fraction(0)) + coef
        return Affine.of(merged, self.const + other.const)

    __radd__ = __add__

    def __neg__(self) -> Affine:
        return Affine(tuple((n, -c) for n, c in self.terms), -self.const)

    def __sub__(self, other: Affine | Number) -> Affine:
        return self + (-other if isinstance(other, Affine) else -_fraction(other))

    def __rsub__(self, other: Number) -> Affine:
        return -self + other

    def __mul__(self, scalar: Number) -> Affine:
        scalar = _fraction(scalar)
        return Affine.of({n: c * scalar for n, c in self.terms}, self.const * scalar)

    __rmul__ = __mul__


def conjunction(literals: Sequence[Affine]) -> Affine:
    """Return ``g = sum(literals) - len(literals)`` for 0/1-valued literals.

    ``g`` is 0 when every literal is 1 and at most -1 otherwise. So
    ``ReLU(g + 1)`` is the AND of the literals. For a value ``0 <= v <= 1``,
    ``ReLU(v + g)`` is ``v`` when all literals are 1 and 0 otherwise. A value up
    to ``M`` needs ``M g`` in place of ``g``.
    """
    total = Affine()
    for literal in literals:
        total = total + literal
    return total - len(literals)


@dataclass(frozen=True)
class UnitSum:
    """Affine combination ``sum(coef * unit) + const`` of hidden units."""

    terms: tuple[tuple[int, Fraction], ...] = ()
    const: Fraction = Fraction(0)

    def as_dict(self) -> dict[int, Fraction]:
        return dict(self.terms)

    def __add__(self, other: UnitSum | Number) -> UnitSum:
        if not isinstance(other, UnitSum):
            return UnitSum(self.terms, self.const + _fraction(other))
        merged = self.as_dict()
        for unit, coef in other.terms:
            merged[unit] = merged.get(unit, Fraction(0)) + coef
        cleaned = tuple(sorted((u, c) for u, c in merged.items() if c != 0))
        return UnitSum(cleaned, self.const + other.const)

    __radd__ = __add__

    def __neg__(self) -> UnitSum:
        return UnitSum(tuple((u, -c) for u, c in self.terms), -self.const)

    def __sub__(self, other: UnitSum | Number) -> UnitSum:
        return self + (-other if isinstance(other, UnitSum) else -_fraction(other))

    def __rsub__(self, other: Number) -> UnitSum:
        return -self + other

    def __mul__(self, scalar: Number) -> UnitSum:
        scalar = _fraction(scalar)
        if scalar == 0:
            return UnitSum()
        return UnitSum(
            tuple((u, c * scalar) for u, c in self.terms), self.const * scalar
        )

    __rmul__ = __mul__


def rational_entry(value: Fraction) -> int | str:
    """Write an exact rational as a spec entry: an int, or a ``"p/q"`` string."""
    value = _fraction(value)
    if value.denominator == 1:
        return int(value.numerator)
    return f"{value.numerator}/{value.denominator}"


class ReluLayerBuilder:
    """Collects hidden ReLU units and next-state rows for an ``mlp`` spec.

    Parameters
    ----------
    state_names : Sequence[str]
        Names of the state coordinates, in state order.
    tokens : Sequence[str]
        The alphabet, in the order of the one-hot input columns.
    """

    def __init__(self, state_names: Sequence[str], tokens: Sequence[str]) -> None:
        if len(set(state_names)) != len(state_names):
            raise SpecError(f"state names repeat: {list(state_names)}")
        self.state_names = tuple(state_names)
        self.tokens = tuple(tokens)
        self.columns = self.state_names + tuple(f"x:{t}" for t in self.tokens)
        self._column_index = {name: i for i, name in enumerate(self.columns)}
        self.units: list[Affine] = []
        self.labels: list[str] = []
        self._unit_index: dict[Affine, int] = {}
        self.outputs: dict[str, UnitSum] = {}

    def var(self, name: str) -> Affine:
        """Return the state coordinate ``name`` as an affine form."""
        if name not in self._column_index or name.startswith("x:"):
            raise SpecError(f"unknown state coordinate {name!r}")
        return Affine.of({name: 1})

    def vars(self, names: Iterable[str]) -> Affine:
        """Return the sum of several state coordinates (a one-hot group literal)."""
        total = Affine()
        for name in names:
            total = total + self.var(name)
        return total

    def token(self, *tokens: str) -> Affine:
        """Return the one-hot indicator of any of ``tokens``."""
        total = Affine()
        for token in tokens:
            if token not in self.tokens:
                raise SpecError(f"unknown token {token!r}; alphabet is {self.tokens}")
            total = total + Affine.of({f"x:{token}": 1})
        return total

    def relu(self, form: Affine, label: str = "") -> UnitSum:
        """Return the hidden unit ``ReLU(form)``, creating it on first use."""
        for name, _ in form.terms:
            if name not in self._column_index:
                raise SpecError(f"hidden unit reads unknown column {name!r}")
        index = self._unit_index.get(form)
        if index is None:
            index = len(self.units)
            self.units.append(form)
            self.labels.append(label)
            self._unit_index[form] = index
        elif label and not self.labels[index]:
            self.labels[index] = label
        return UnitSum(((index, Fraction(1)),))

    def set_output(self, name: str, value: UnitSum) -> None:
        """Set the next value of state coordinate ``name``."""
        if name not in self.state_names:
            raise SpecError(f"unknown state coordinate {name!r}")
        self.outputs[name] = value

    def hidden_weights(self) -> tuple[list[list[Fraction]], list[Fraction]]:
        """Return the hidden layer's weight rows and biases."""
        rows = []
        for form in self.units:
            row = [Fraction(0)] * len(self.columns)
            for name, coef in form.terms:
                row[self._column_index[name]] = coef
            rows.append(row)
        return rows, [form.const for form in self.units]

    def output_weights(self) -> tuple[list[list[Fraction]], list[Fraction]]:
        """Return the output layer's weight rows and biases (missing rows are 0)."""
        rows = []
        biases = []
        for name in self.state_names:
            value = self.outputs.get(name, UnitSum())
            row = [Fraction(0)] * len(self.units)
            for unit, coef in value.terms:
                row[unit] = coef
            rows.append(row)
            biases.append(value.const)
        return rows, biases

    def spec(
        self,
        *,
        name: str,
        initial: Mapping[str, Number],
        readout: Mapping[str, Number],
        readout_bias: Number,
        description: str = "",
    ) -> dict:
        """Return the ``mlp`` spec table with exact entries.

        Parameters
        ----------
        name, description : str
            Spec name and one-line description.
        initial : Mapping[str, int or Fraction]
            Nonzero coordinates of the initial state.
        readout : Mapping[str, int or Fraction]
            Readout weights by coordinate name (others are 0).
        readout_bias : int or Fraction
            Readout bias; the input is accepted iff the readout is > 0.
        """
        hidden, hidden_bias = self.hidden_weights()
        out, out_bias = self.output_weights()
        position = {n: i for i, n in enumerate(self.state_names)}
        initial_state = [0] * len(self.state_names)
        for key, value in initial.items():
            initial_state[position[key]] = rational_entry(_fraction(value))
        readout_weights = [0] * len(self.state_names)
        for key, value in readout.items():
            readout_weights[position[key]] = rational_entry(_fraction(value))
        return {
            "name": name,
            "description": description,
            "family": "mlp",
            "state_dim": len(self.state_names),
            "alphabet": list(self.tokens),
            "initial_state": initial_state,
            "layers": [
                {
                    "weight": [[rational_entry(v) for v in row] for row in hidden],
                    "bias": [rational_entry(v) for v in hidden_bias],
                    "activation": "relu",
                },
                {
                    "weight": [[rational_entry(v) for v in row] for row in out],
                    "bias": [rational_entry(v) for v in out_bias],
                    "activation": "identity",
                },
            ],
            "readout": {
                "weights": readout_weights,
                "bias": rational_entry(_fraction(readout_bias)),
            },
        }
