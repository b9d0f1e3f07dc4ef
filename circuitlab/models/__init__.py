"""Model families: one module per family, each with its reference semantics.

:func:`build_model` turns a validated spec into a model object; :func:`free_model`
builds a linear model whose transition parameters are circuit inputs.
"""

from __future__ import annotations

from circuitlab.errors import SpecError

__all__ = [
    "family_module",
    "build_model",
    "free_model",
    "LINEAR_FAMILIES",
    "NONLINEAR_FAMILIES",
]

LINEAR_FAMILIES = (
    "diagonal",
    "pd",
    "dplr",
    "deltanet",
    "gated-deltanet",
    "rwkv7",
    "dense",
)
NONLINEAR_FAMILIES = ("elman", "mlp")


def family_module(family: str):
    """Return the object that parses and emits one family (a module or a class)."""
    from circuitlab.models import dense, diagonal, dplr, multilayer, nonlinear, pd

    table = {
        "diagonal": diagonal,
        "pd": pd,
        "dense": dense,
        "dplr": dplr.Dplr,
        "deltanet": dplr.DeltaNet,
        "gated-deltanet": dplr.GatedDeltaNet,
        "rwkv7": dplr.Rwkv7,
        "elman": nonlinear.ElmanModel,
        "mlp": nonlinear.MlpModel,
        "multilayer": multilayer.MultilayerFamily,
    }
    if family not in table:
        raise SpecError(f"unknown family {family!r}; known: {', '.join(table)}")
    return table[family]


def build_model(spec):
    """Return the model object of a validated spec."""
    from circuitlab.models.linear import LinearSpecModel

    module = family_module(spec.family)
    if spec.family == "multilayer":
        from circuitlab.models.multilayer import MultilayerModel

        return MultilayerModel(spec)
    if spec.family in NONLINEAR_FAMILIES:
        return module(spec)
    return LinearSpecModel(spec, module)


def free_model(family: str, state_dim: int, rank: int = 1):
    """Return a linear model of the given family with free per-position parameters."""
    from circuitlab.models.linear import FreeLinearModel

    if family not in LINEAR_FAMILIES:
        raise SpecError(
            f"--free needs a linear family ({', '.join(LINEAR_FAMILIES)}), got {family!r}"
        )
    if state_dim < 1:
        raise SpecError(f"--state-dim must be at least 1, got {state_dim}")
    return FreeLinearModel(family, family_module(family), state_dim, rank)
