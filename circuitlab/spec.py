"""Load and validate model specs (TOML files in ``rnn_specs/``).

A spec names a family, a state size, an input alphabet, exact parameters and a
readout. Rationals are written as integers or ``"p/q"`` strings. Validation collects
every problem in the file and raises one :class:`~circuitlab.errors.SpecError` that
lists them all with their keys. The keys of each family are documented in
docs/specs.md.

Common keys
-----------
``name``, ``description``, ``family``, ``state_dim``, ``alphabet`` (list of token
strings), ``initial_state`` (default zeros), ``[readout] weights, bias``: the
readout is ``y = <h_n, weights> + bias`` and the input is accepted iff ``y > 0``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from circuitlab.errors import SpecError
from circuitlab.rational import mpq, parse_rational

__all__ = ["Spec", "load_spec", "parse_spec", "shipped_specs", "Problems", "FAMILIES"]

#: Families a spec may name, with the module that implements each.
FAMILIES = (
    "elman",
    "mlp",
    "diagonal",
    "pd",
    "dplr",
    "deltanet",
    "gated-deltanet",
    "rwkv7",
    "dense",
    "multilayer",
)


class Problems:
    """Collects validation problems so that one error can list them all."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            count = len(self.items)
            listing = "; ".join(self.items)
            noun = "problem" if count == 1 else "problems"
            raise SpecError(f"{self.source}: {count} {noun}: {listing}")

    # Typed readers: each returns None (and records a problem) on bad input.

    def rational(self, table: dict, key: str, where: str, default=None, required=True):
        if key not in table:
            if required and default is None:
                self.add(
                    f"{where}{key}", "missing (expected a rational such as 1 or '3/4')"
                )
            return None if default is None else parse_rational(default)
        try:
            return parse_rational(table[key])
        except ValueError as error:
            self.add(f"{where}{key}", str(error))
            return None

    def array(self, table: dict, key: str, where: str, shape: tuple, default=None):
        """Read an exact rational array of the given shape (None: missing/invalid)."""
        if key not in table:
            if default is None:
                self.add(
                    f"{where}{key}", f"missing (expected an array of shape {shape})"
                )
                return None
            return np.full(shape, parse_rational(default), dtype=object)
        raw = table[key]
        try:
            values = np.array(raw, dtype=object)
        except ValueError:
            values = None
        if values is None or values.shape != shape:
            found = "ragged" if values is None else values.shape
            self.add(f"{where}{key}", f"expected shape {shape}, found {found}")
            return None
        out = np.empty(shape, dtype=object)
        bad = []
        for index, value in np.ndenumerate(values):
            try:
                out[index] = parse_rational(value)
            except ValueError:
                bad.append(f"{list(index)}={value!r}")
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            self.add(
                f"{where}{key}",
                f"not an integer or 'p/q' string at {', '.join(bad[:3])}{more}",
            )
            return None
        return out

    def integer(
        self, table: dict, key: str, where: str, minimum: int = 1, default=None
    ):
        if key not in table:
            if default is None:
                self.add(f"{where}{key}", f"missing (expected an integer >= {minimum})")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.add(
                f"{where}{key}", f"expected an integer >= {minimum}, got {value!r}"
            )
            return None
        return value


@dataclass
class Spec:
    """A validated model definition."""

    name: str
    family: str
    description: str
    state_dim: int
    alphabet: tuple[str, ...]
    initial_state: np.ndarray
    readout_weights: np.ndarray
    readout_bias: object
    params: dict = field(default_factory=dict)
    source: str = "<spec>"

    @property
    def token_index(self) -> dict[str, int]:
        return {token: k for k, token in enumerate(self.alphabet)}


def shipped_specs() -> dict[str, Path]:
    """Return the shipped spec names and their files."""
    found = {}
    for folder in _spec_folders():
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def _spec_folders() -> list[Path]:
    folders = []
    try:
        packaged = Path(str(resources.files("circuitlab") / "rnn_specs"))
        if packaged.is_dir():
            folders.append(packaged)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        pass
    checkout = Path(__file__).resolve().parent.parent / "rnn_specs"
    if checkout.is_dir():
        folders.append(checkout)
    return folders


def load_spec(model: str | Path) -> Spec:
    """Load a shipped spec by name or a spec file by path.

    Examples
    --------
    >>> load_spec("pd").family
    'pd'
    """
    shipped = shipped_specs()
    path = Path(model)
    if str(model) in shipped and not path.suffix:
        path = shipped[str(model)]
    elif not path.exists():
        names = ", ".join(sorted(shipped))
        if path.suffix == ".toml" or "/" in str(model):
            raise SpecError(f"spec file {model} not found")
        raise SpecError(
            f"unknown model {model!r}; shipped models: {names} (or give a .toml path)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read spec file {path}: {error}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: invalid TOML: {error}") from None
    return parse_spec(table, source=str(path), default_name=path.stem)


def parse_spec(
    table: dict, *, source: str = "<spec>", default_name: str = "model"
) -> Spec:
    """Validate a spec given as a parsed TOML table and return a :class:`Spec`."""
    from circuitlab.models import family_module

    problems = Problems(source)
    family = table.get("family")
    if family is None:
        problems.add("family", f"missing (one of {', '.join(FAMILIES)})")
    elif family not in FAMILIES:
        problems.add(
            "family", f"unknown family {family!r} (one of {', '.join(FAMILIES)})"
        )
        family = None

    state_dim = problems.integer(table, "state_dim", "", minimum=1)
    alphabet = table.get("alphabet")
    if (
        not isinstance(alphabet, list)
        or not alphabet
        or not all(isinstance(token, str) and token for token in alphabet)
    ):
        problems.add("alphabet", "expected a non-empty list of non-empty token strings")
        alphabet = None
    elif len(set(alphabet)) != len(alphabet):
        problems.add("alphabet", "tokens must be distinct")
        alphabet = None

    readout = table.get("readout")
    weights = bias = initial = None
    if state_dim is not None:
        initial = problems.array(table, "initial_state", "", (state_dim,), default=0)
        if not isinstance(readout, dict):
            problems.add("readout", "missing table with keys weights and bias")
        else:
            weights = problems.array(readout, "weights", "readout.", (state_dim,))
            bias = problems.rational(readout, "bias", "readout.", default=0)
            for key in readout:
                if key not in ("weights", "bias"):
                    problems.add(f"readout.{key}", "unknown key (known: bias, weights)")

    params = {}
    if family is not None and state_dim is not None and alphabet is not None:
        params = family_module(family).parse_params(
            table, state_dim, alphabet, problems
        )
    known = {
        "name",
        "description",
        "family",
        "state_dim",
        "alphabet",
        "initial_state",
        "readout",
    }
    if family is not None:
        known |= set(family_module(family).PARAM_KEYS)
    for key in table:
        if key not in known:
            problems.add(
                key,
                f"unknown key for family {family} (known: {', '.join(sorted(known))})",
            )
    problems.raise_if_any()
    return Spec(
        name=str(table.get("name", default_name)),
        family=family,
        description=str(table.get("description", "")),
        state_dim=state_dim,
        alphabet=tuple(alphabet),
        initial_state=initial,
        readout_weights=weights,
        readout_bias=bias if bias is not None else mpq(0),
        params=params,
        source=source,
    )
