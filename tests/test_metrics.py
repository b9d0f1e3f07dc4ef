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
    circuit = circuitlab.compile(
        circuitlab.load_model(name), 24, strategy, outputs=outputs
    )
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


def test_to_networkx_keeps_operand_order_and_outputs():
    circuit = circuitlab.Circuit()
    x = circuit.add_input("x", (2,))
    circuit.set_output("y", circuit.sub(x[1], x[0]))
    graph = circuitlab.to_networkx(circuit)
    gate = int(circuit.outputs["y"])
    assert graph[int(x[1])][gate]["positions"] == [0]
    assert graph[int(x[0])][gate]["positions"] == [1]
    assert graph.nodes[gate]["output"] == "y"


def test_to_networkx_square_has_both_positions():
    circuit = circuitlab.Circuit()
    x = circuit.add_input("x", (1,))
    circuit.set_output("y", circuit.mul(x[0], x[0]))
    graph = circuitlab.to_networkx(circuit)
    assert graph[int(x[0])][int(circuit.outputs["y"])]["positions"] == [0, 1]
