"""Tests for circuit metrics that other test files do not cover: live size."""

from __future__ import annotations

import networkx as nx
import pytest

import circuitlab
from circuitlab.analysis.metrics import circuit_stats


def networkx_live_size(circuit) -> int:
    graph = circuitlab.to_networkx(circuit)
    needed = set()
    for node in circuit.output_ids():
        needed |= nx.ancestors(graph, int(node)) | {int(node)}
    return sum(
        1 for node in needed if graph.nodes[node]["op"] not in ("input", "const")
    )


@pytest.mark.parametrize(
    "name, strategy, outputs",
    [
        ("pd", "tree", "final"),
        ("pd", "kogge-stone", "final"),
        ("pd", "brent-kung", "all"),
        ("deltanet", "sklansky", "final"),
        ("elman", "chain", "final"),
        ("pd-2layer", "serial", "final"),
    ],
)
def test_live_size_matches_networkx_ancestors(name, strategy, outputs):
    circuit = circuitlab.compile(circuitlab.load_model(name), 24, strategy, outputs=outputs)
    stats = circuit_stats(circuit)
    assert stats["live_size"] == networkx_live_size(circuit)
    assert stats["dead_gates"] == stats["size"] - stats["live_size"]


def test_prefix_network_final_output_has_dead_gates():
    # Kogge-Stone builds every prefix, but only the last one feeds the output.
    circuit = circuitlab.compile(circuitlab.load_model("pd"), 64, "kogge-stone")
    stats = circuit_stats(circuit)
    assert stats["dead_gates"] > stats["live_size"]


def test_free_dense_tree_has_no_dead_gates():
    circuit = circuitlab.compile(circuitlab.free_model("dense", 3), 64, "tree")
    assert circuit_stats(circuit)["dead_gates"] == 0
