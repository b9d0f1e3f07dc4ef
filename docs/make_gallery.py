"""Regenerate the drawings in docs/gallery/ that docs/gallery.md embeds.

Run from the repository root with Graphviz installed: ``python docs/make_gallery.py``.
Every file is rebuilt from scratch.
"""

from __future__ import annotations

import sys
from pathlib import Path

from circuitlab.compile import compile_model
from circuitlab.models import build_model, free_model
from circuitlab.render import find_dot, render_circuit, render_comparison
from circuitlab.spec import load_spec

GALLERY = Path(__file__).resolve().parent / "gallery"

PREFIX_NETWORKS = ("serial", "sklansky", "kogge-stone", "brent-kung", "ladner-fischer")


def spec_circuit(name: str, n: int, strategy: str, outputs: str = "final"):
    return compile_model(build_model(load_spec(name)), n, strategy, outputs=outputs)


def free_diagonal(n: int, strategy: str, outputs: str):
    return compile_model(free_model("diagonal", 1), n, strategy, outputs=outputs)


def build_gallery() -> list[Path]:
    """Draw every gallery image and return the paths written."""
    written = []

    def keep(result):
        written.append(result.path)

    elman_16 = spec_circuit("elman", 16, "chain")
    pd_16 = spec_circuit("pd", 16, "tree")
    keep(
        render_comparison(
            [elman_16, pd_16],
            GALLERY / "chain-vs-tree-blocks.svg",
            panel_titles=["chain (nonlinear Elman RNN)", "tree (linear PD RNN)"],
        )
    )
    keep(
        render_circuit(
            spec_circuit("elman", 8, "chain"), GALLERY / "elman-chain-gates.svg"
        )
    )
    keep(
        render_comparison(
            [free_diagonal(8, "chain", "final"), free_diagonal(8, "tree", "final")],
            GALLERY / "diagonal-chain-vs-tree-gates.svg",
            level="gate",
            panel_titles=["chain", "tree"],
        )
    )
    for strategy in PREFIX_NETWORKS:
        circuit = free_diagonal(16, strategy, "all")
        keep(
            render_circuit(
                circuit, GALLERY / f"prefix-{strategy}-gates.svg", level="gate"
            )
        )
        keep(
            render_circuit(
                circuit, GALLERY / f"prefix-{strategy}-blocks.svg", level="block"
            )
        )
    keep(
        render_circuit(
            spec_circuit("pd-2layer", 8, "sklansky"),
            GALLERY / "pd-2layer-blocks.svg",
            level="block",
        )
    )
    keep(
        render_circuit(
            spec_circuit("pd", 1024, "tree"),
            GALLERY / "pd-tree-1024-blocks.svg",
            level="block",
            node_cap=64,
        )
    )
    return written


def main() -> int:
    if find_dot() is None:
        print(
            "error: Graphviz dot is not on PATH; install Graphviz first",
            file=sys.stderr,
        )
        return 2
    GALLERY.mkdir(exist_ok=True)
    for path in build_gallery():
        print(f"wrote {path.relative_to(GALLERY.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
