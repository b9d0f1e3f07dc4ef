"""Tests for circuitlab.problems: instances, reductions, encoders and machines."""

from __future__ import annotations

import itertools
import math
import random
import re
from fractions import Fraction
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuitlab.errors import FormatError, ProblemError
from circuitlab.problems import (
    INITIAL_COUNTER_CONFIG,
    SORTED_SHAPES,
    BooleanCircuit,
    ConstantInstruction,
    CounterState,
    CvpProgram,
    FunctionalGraph,
    Gate,
    GateInstruction,
    Phase,
    SortedInstance,
    StackAction,
    all_functional_graphs,
    all_sorted_edge_sets,
    base2_head,
    base2_pop,
    base2_push,
    circuit_to_cvp_program,
    counter_step,
    cvp_padding_length,
    cvp_program_bits,
    decide_cvp,
    decide_reachability,
    decode_cvp_stream,
    decode_sorted_stream,
    encode_cvp_stream,
    encode_sorted_stream,
    evaluate_circuit,
    evaluate_cvp_program,
    format_bench,
    format_functional_graph,
    format_sorted_instance,
    gapped_decode,
    gapped_encode,
    gapped_head,
    gapped_nonempty,
    gapped_pop,
    gapped_push,
    layered_reduction,
    layered_vertex,
    make_target_sink,
    max_counter_value,
    parse_bench,
    parse_cvp_bits,
    parse_functional_graph,
    parse_sorted_instance,
    random_circuit,
    random_functional_graph,
    random_functional_query,
    random_sorted_instance,
    reachable,
    read_bench,
    read_functional_graph,
    read_sorted_instance,
    run_counter_machine,
    run_stack_machine,
    sorted_stream_runs,
    stack_transition_table,
    to_monotone,
    trace_counter_machine,
    value_bits,
    walk_from,
    write_bench,
    write_functional_graph,
    write_sorted_instance,
)

DATA = Path(__file__).parent / "data"


def _all_sorted_instances(max_vertices: int):
    for n in range(1, max_vertices + 1):
        for edges in all_sorted_edge_sets(n):
            for s, t in itertools.product(range(1, n + 1), repeat=2):
                yield SortedInstance(n, s, t, edges)


def _has_out_edge(instance: SortedInstance, vertex: int) -> bool:
    return any(u == vertex for u, _ in instance.edges)


def _has_in_edge(instance: SortedInstance, vertex: int) -> bool:
    return any(v == vertex for _, v in instance.edges)


# ---------------------------------------------------------------------------
# Graph instances and validation
# ---------------------------------------------------------------------------


class TestInstanceValidation:
    @pytest.mark.parametrize(
        ("edges", "pattern"),
        [
            ({1: 4}, r"target vertex 4 is out of range: vertices are numbered 1\.\.3"),
            ({0: 1}, r"source vertex 0 is out of range"),
            ({1: 2.5}, r"target vertex 2\.5 is not an integer"),
        ],
    )
    def test_functional_graph_rejects(self, edges, pattern):
        with pytest.raises(ProblemError, match=pattern):
            FunctionalGraph(3, edges)

    def test_functional_graph_needs_vertices(self):
        with pytest.raises(ProblemError, match="at least 1"):
            FunctionalGraph(0, {})

    @pytest.mark.parametrize(
        ("edges", "pattern"),
        [
            ([(1, 2), (1, 3)], r"edge 1: vertex 1 has a second out-edge 1 -> 3"),
            ([(2, 3), (1, 3)], r"edge 1: edge 1 -> 3 is out of order"),
            ([(1, 2), (3, 2)], r"edge 1: edge 3 -> 2 is not forward"),
            ([(2, 2)], r"edge 0: edge 2 -> 2 is not forward"),
            ([(1, 5)], r"edge 0: edge 1 -> 5: target vertex 5 is out of range"),
        ],
    )
    def test_sorted_instance_rejects(self, edges, pattern):
        with pytest.raises(ProblemError, match=pattern):
            SortedInstance(4, 1, 4, edges)

    @pytest.mark.parametrize(("source", "target"), [(0, 1), (1, 5)])
    def test_sorted_instance_rejects_query(self, source, target):
        with pytest.raises(ProblemError, match="out of range"):
            SortedInstance(4, source, target, [])

    def test_functional_graph_equality_and_hash(self):
        first = FunctionalGraph(3, {2: 1, 1: 2})
        second = FunctionalGraph(3, {1: 2, 2: 1})
        assert first == second
        assert hash(first) == hash(second)
        assert list(first.edges) == [1, 2]

    def test_sorted_instance_accessors(self):
        instance = SortedInstance(4, 1, 3, [(1, 3), (3, 4)])
        assert instance.successors == {1: 3, 3: 4}
        assert not instance.target_is_sink
        assert make_target_sink(instance).edges == ((1, 3),)
        assert instance.to_functional_graph() == FunctionalGraph(4, {1: 3, 3: 4})


class TestReferenceSolver:
    def test_reachable_cycle(self):
        graph = FunctionalGraph(4, {1: 2, 2: 3, 3: 1})
        assert reachable(graph, 3, 2)
        assert not reachable(graph, 1, 4)
        assert reachable(graph, 4, 4)

    def test_reachable_needs_query(self):
        with pytest.raises(ProblemError, match="needs both source and target"):
            reachable(FunctionalGraph(2, {}), 1)

    def test_walk_from_stops_at_cycle(self):
        assert walk_from({1: 2, 2: 3, 3: 2}, 1) == [1, 2, 3]
        assert walk_from({}, 5) == [5]


# ---------------------------------------------------------------------------
# Instance files
# ---------------------------------------------------------------------------


class TestInstanceFiles:
    def test_sorted_round_trip(self, tmp_path):
        instance = random_sorted_instance(30, 7)
        path = tmp_path / "instance.txt"
        write_sorted_instance(instance, path)
        assert read_sorted_instance(path) == instance

    def test_functional_round_trip(self, tmp_path):
        graph = random_functional_graph(25, 3)
        path = tmp_path / "graph.txt"
        write_functional_graph(graph, path, source=4, target=9)
        assert read_functional_graph(path) == (graph, 4, 9)

    def test_functional_query_optional(self):
        graph, source, target = parse_functional_graph("vertices 3\n1 3\n3 3\n")
        assert graph == FunctionalGraph(3, {1: 3, 3: 3})
        assert source is None
        assert target is None

    def test_comments_and_keyword_order(self):
        text = "# c\n1 2   # edge\ntarget 3\n\nsource 1\nvertices 3\n2 3\n"
        instance = parse_sorted_instance(text)
        assert instance == SortedInstance(3, 1, 3, [(1, 2), (2, 3)])

    def test_format_is_readable(self):
        text = format_sorted_instance(SortedInstance(3, 1, 3, [(1, 3)]))
        assert "vertices 3\nsource 1\ntarget 3\n1 3\n" in text
        assert format_functional_graph(FunctionalGraph(2, {2: 1})).endswith("2 1\n")

    @pytest.mark.parametrize(
        ("text", "pattern"),
        [
            ("source 1\ntarget 2\n", r"g\.txt: missing the 'vertices N' line"),
            ("vertices 3\ntarget 2\n", r"g\.txt: missing the 'source VERTEX' line"),
            ("vertices 3\nvertices 4\n", r"g\.txt:2: 'vertices' is given again"),
            ("vertices 3\nsource 1\ntarget 2\n1 2 3\n", r"g\.txt:4: expected"),
            ("vertices 3\nsource x\n", r"g\.txt:2: 'source' needs an integer"),
            ("vertices 3\nsource 4\ntarget 1\n", r"g\.txt:2: source vertex 4"),
            ("vertices 0\n", r"g\.txt:1: 'vertices 0' must be at least 1"),
            ("vertices 3\nsource 1\ntarget 3\n2 3\n1 2\n", r"g\.txt:5: edge 1 -> 2 is"),
            ("vertices 3\nsource 1\ntarget 3\n1 2\n1 3\n", r"g\.txt:5: vertex 1 has"),
            ("vertices 3\nsource 1\ntarget 3\n3 1\n", r"g\.txt:4: edge 3 -> 1 is not"),
            (
                "vertices 3\nsource 1\ntarget 3\n1 7\n",
                r"g\.txt:4: edge 1 -> 7: target vertex 7",
            ),
        ],
    )
    def test_sorted_parse_errors(self, text, pattern):
        with pytest.raises(FormatError, match=pattern):
            parse_sorted_instance(text, name="g.txt")

    @pytest.mark.parametrize(
        ("text", "pattern"),
        [
            ("vertices 3\n1 2\n1 3\n", r"g\.txt:3: vertex 1 has a second out-edge"),
            ("vertices 3\n1 4\n", r"g\.txt:2: vertex 4 of edge 1 -> 4 is out of range"),
            ("vertices 3\nfoo 4\n", r"g\.txt:2: expected an edge"),
        ],
    )
    def test_functional_parse_errors(self, text, pattern):
        with pytest.raises(FormatError, match=pattern):
            parse_functional_graph(text, name="g.txt")

    def test_missing_file(self, tmp_path):
        with pytest.raises(FormatError, match="cannot read instance file"):
            read_sorted_instance(tmp_path / "absent.txt")


# ---------------------------------------------------------------------------
# Token streams
# ---------------------------------------------------------------------------


class TestSortedStream:
    def test_encode_example(self):
        instance = SortedInstance(4, 2, 4, [(1, 3), (2, 4)])
        assert encode_sorted_stream(instance) == "00|0|000|00|0000|#0000$"

    def test_round_trip_exhaustive(self):
        count = 0
        for instance in _all_sorted_instances(5):
            decoded = decode_sorted_stream(encode_sorted_stream(instance))
            vertices = itertools.chain.from_iterable(instance.edges)
            largest = max([instance.source, instance.target, *vertices])
            assert decoded.edges == instance.edges
            assert (decoded.source, decoded.target) == (
                instance.source,
                instance.target,
            )
            assert decoded.num_vertices == largest
            count += 1
        assert count == sum(math.factorial(n) * n * n for n in range(1, 6))

    def test_runs_match_string(self):
        for seed in range(20):
            instance = random_sorted_instance(40, seed)
            runs = "".join(token * k for token, k in sorted_stream_runs(instance))
            assert runs == encode_sorted_stream(instance)

    @pytest.mark.parametrize(
        ("stream", "pattern"),
        [
            ("", r"token 0: expected the unary source vertex .*end of stream"),
            ("|0|", r"token 0: expected the unary source vertex"),
            ("0|0|00#0$", r"token 6: expected '\|' after an edge target, found '#'"),
            ("0|0|00|0$", r"token 8: expected '\|' after an edge source, found '\$'"),
            ("0|#0", r"token 4: stream ended, expected '\$'"),
            ("0|#0$0", r"token 5: '0' follows the final"),
            ("0|#0x", r"token 4: 'x' is not in the alphabet"),
            ("0|00|0|#0$", r"token 2: edge 2 -> 1 is not forward"),
            ("0|0|00|0|000|#0$", r"token 7: vertex 1 has a second out-edge"),
            ("0|00|000|0|00|#0$", r"token 9: edge 1 -> 2 is out of order"),
        ],
    )
    def test_decode_errors(self, stream, pattern):
        with pytest.raises(ProblemError, match=pattern):
            decode_sorted_stream(stream)


# ---------------------------------------------------------------------------
# Layered reduction
# ---------------------------------------------------------------------------


class TestLayeredReduction:
    def test_shape(self):
        graph = FunctionalGraph(3, {1: 2, 2: 3, 3: 1})
        instance = layered_reduction(graph, 1, 3)
        final = 3 * 4 + 1
        assert instance.num_vertices == final
        assert instance.target == final
        assert instance.source == layered_vertex(3, 0, 1)
        assert instance.target_is_sink
        assert (layered_vertex(3, 0, 1), layered_vertex(3, 1, 2)) in instance.edges
        assert (layered_vertex(3, 2, 3), final) in instance.edges

    def test_source_equals_target(self):
        instance = layered_reduction(FunctionalGraph(3, {}), 2, 2)
        assert (2, instance.target) in instance.edges
        assert reachable(instance)
        assert decide_reachability(FunctionalGraph(3, {}), 2, 2)

    def test_preserves_reachability_exhaustive(self):
        # Checked with networkx on both sides, independently of the machine.
        count = 0
        for n in range(1, 5):
            for graph in all_functional_graphs(n):
                nx_graph = graph.to_networkx()
                for s, t in itertools.product(range(1, n + 1), repeat=2):
                    reduced = layered_reduction(graph, s, t)
                    assert reachable(reduced) == nx.has_path(nx_graph, s, t)
                    count += 1
        assert count == sum((n + 1) ** n * n * n for n in range(1, 5))


# ---------------------------------------------------------------------------
# Counter machine
# ---------------------------------------------------------------------------


class TestCounterMachine:
    def test_trace_layout(self):
        stream = "0|0|000|#000$"
        trace = trace_counter_machine(stream)
        assert len(trace) == len(stream) + 1
        assert trace[0] == INITIAL_COUNTER_CONFIG
        assert trace[1] == (CounterState.SOURCE, 1, 0)
        assert trace[3] == (CounterState.LEFT, 0, 1)
        assert trace[4] == (CounterState.EQUAL, 0, 1)
        assert trace[8] == (CounterState.EDGE, 3, 0)
        assert trace[-1].state is CounterState.ACCEPT

    def test_unequal_restores_current_vertex(self):
        # The walk is at vertex 1, so edge 2 -> 5 does not apply and S returns to 1.
        trace = trace_counter_machine("0|00|00000|")
        states = [config.state for config in trace]
        assert CounterState.UNEQUAL in states
        assert trace[-1] == (CounterState.EDGE, 1, 0)

    def test_undefined_transition_rejects(self):
        assert counter_step(INITIAL_COUNTER_CONFIG, "#").state is CounterState.REJECT
        assert not run_counter_machine("0|#0$0")
        assert not run_counter_machine("0|#0$$")
        assert not run_counter_machine("0|#0")

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="0|#$x", max_size=60), st.booleans())
    def test_run_length_equals_stepwise(self, stream, guard):
        trace = trace_counter_machine(stream, idx_guard=guard)
        accepted = trace[-1].state is CounterState.ACCEPT
        peak = max(max(abs(c.S), abs(c.idx)) for c in trace)
        assert run_counter_machine(stream, idx_guard=guard) == accepted
        assert max_counter_value(stream, idx_guard=guard) == peak
        assert peak <= stream.count("0")

    def test_run_length_equals_stepwise_on_instances(self):
        for instance in itertools.islice(_all_sorted_instances(5), 0, None, 7):
            stream = encode_sorted_stream(instance)
            for guard in (True, False):
                trace = trace_counter_machine(stream, idx_guard=guard)
                accepted = trace[-1].state is CounterState.ACCEPT
                assert run_counter_machine(stream, idx_guard=guard) == accepted

    def test_raw_machine_on_sink_targets(self):
        # The machine decides reachability when the target is a sink, and fails
        # on some instance whose target has an out-edge.
        sink_count = 0
        disagreements = []
        for instance in _all_sorted_instances(6):
            answer = run_counter_machine(encode_sorted_stream(instance))
            if instance.target_is_sink:
                assert answer == reachable(instance), instance
                sink_count += 1
            elif answer != reachable(instance):
                disagreements.append(instance)
        assert sink_count > 10000
        assert disagreements
        assert all(reachable(instance) for instance in disagreements)

    def test_raw_machine_known_flaw(self):
        instance = SortedInstance(3, 1, 2, [(1, 2), (2, 3)])
        assert reachable(instance)
        assert not run_counter_machine(encode_sorted_stream(instance))
        assert decide_reachability(instance)

    def test_ablation_is_wrong_somewhere(self):
        wrong = [
            instance
            for instance in _all_sorted_instances(5)
            if instance.target_is_sink
            and run_counter_machine(encode_sorted_stream(instance), idx_guard=False)
            != reachable(instance)
        ]
        assert wrong
        # Walk 1 -> 3 skips the edge 2 -> 4; without the guard S becomes 3 + 2.
        example = SortedInstance(5, 1, 3, [(1, 3), (2, 4)])
        assert run_counter_machine(encode_sorted_stream(example))
        assert not run_counter_machine(encode_sorted_stream(example), idx_guard=False)

    def test_max_counter_value(self):
        assert max_counter_value("0|0|000|#000$") == 3
        for seed in range(30):
            stream = encode_sorted_stream(random_sorted_instance(60, seed))
            assert 0 < max_counter_value(stream) < len(stream)


# ---------------------------------------------------------------------------
# Always-correct pipeline
# ---------------------------------------------------------------------------


class TestDecideReachability:
    def test_sorted_exhaustive_up_to_6_vertices(self):
        count = 0
        for instance in _all_sorted_instances(6):
            assert decide_reachability(instance) == reachable(instance), instance
            count += 1
        assert count == 29367  # sum of n! * n^2 for n = 1..6

    def test_functional_exhaustive_up_to_5_vertices(self):
        count = 0
        for n in range(1, 6):
            for graph in all_functional_graphs(n):
                nx_graph = graph.to_networkx()
                for s, t in itertools.product(range(1, n + 1), repeat=2):
                    expected = nx.has_path(nx_graph, s, t)
                    assert decide_reachability(graph, s, t) == expected, (graph, s, t)
                    count += 1
        assert count == 205014  # sum of (n + 1)^n * n^2 for n = 1..5

    def test_random_sorted_101_to_300_vertices(self):
        rng = np.random.default_rng(2026)
        for _ in range(60):
            n = int(rng.integers(101, 301))
            instance = random_sorted_instance(n, rng)
            expected = reachable(instance)
            assert decide_reachability(instance) == expected
            assert run_counter_machine(encode_sorted_stream(instance)) == expected

    def test_random_functional_101_to_300_vertices(self):
        rng = np.random.default_rng(11)
        for label in (True, False, True, False):
            n = int(rng.integers(101, 301))
            graph, s, t = random_functional_query(n, rng, reachable=label)
            assert reachable(graph, s, t) == label
            assert decide_reachability(graph, s, t) == label

    def test_query_override_on_sorted_instance(self):
        instance = SortedInstance(4, 1, 4, [(1, 2), (2, 4)])
        assert decide_reachability(instance, 3, 4) is False
        assert decide_reachability(instance, target=2) is True

    def test_rejects_bad_input(self):
        with pytest.raises(ProblemError, match="needs source and target"):
            decide_reachability(FunctionalGraph(2, {}), 1)
        with pytest.raises(ProblemError, match="got dict"):
            decide_reachability({1: 2}, 1, 2)


# ---------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------


class TestGenerators:
    def test_sorted_labels_balanced_and_not_trivial(self):
        rng = np.random.default_rng(5)
        labels = []
        trivial_correct = 0
        for _ in range(500):
            instance = random_sorted_instance(int(rng.integers(5, 301)), rng)
            label = reachable(instance)
            trivial = _has_out_edge(instance, instance.source) and _has_in_edge(
                instance, instance.target
            )
            labels.append(label)
            trivial_correct += trivial == label
            assert instance.target_is_sink
        positive_rate = sum(labels) / len(labels)
        assert 0.4 <= positive_rate <= 0.6
        assert trivial_correct / len(labels) <= 0.65

    @pytest.mark.parametrize("shape", SORTED_SHAPES)
    def test_each_shape_gives_both_labels(self, shape):
        rng = np.random.default_rng(9)
        negatives_with_features = 0
        for label in (True, False) * 20:
            instance = random_sorted_instance(50, rng, reachable=label, shape=shape)
            assert reachable(instance) == label
            if not label:
                negatives_with_features += _has_out_edge(
                    instance, instance.source
                ) and _has_in_edge(instance, instance.target)
        assert negatives_with_features >= 15

    def test_near_miss_skips_target(self):
        instance = random_sorted_instance(40, 3, reachable=False, shape="near_miss")
        walk = walk_from(instance.successors, instance.source)
        assert instance.target - 1 in walk
        assert instance.target + 1 in walk

    def test_small_sizes(self):
        assert random_sorted_instance(1, 0) == SortedInstance(1, 1, 1, ())
        for n in (2, 3, 4):
            for label in (True, False):
                instance = random_sorted_instance(n, n, reachable=label)
                assert reachable(instance) == label
        with pytest.raises(ProblemError, match="no unreachable query"):
            random_sorted_instance(1, 0, reachable=False)

    def test_seeded_and_shape_checked(self):
        assert random_sorted_instance(80, 42) == random_sorted_instance(80, 42)
        assert random_functional_graph(30, 1) == random_functional_graph(30, 1)
        with pytest.raises(ProblemError, match="unknown shape"):
            random_sorted_instance(10, 0, shape="star")

    def test_functional_query_labels(self):
        rng = np.random.default_rng(4)
        for label in (True, False) * 10:
            graph, s, t = random_functional_query(20, rng, reachable=label)
            assert reachable(graph, s, t) == label

    def test_functional_graph_edge_probability(self):
        assert random_functional_graph(50, 0, edge_probability=0.0).edges == {}
        assert len(random_functional_graph(50, 0, edge_probability=1.0).edges) == 50
        with pytest.raises(ProblemError, match="not in"):
            random_functional_graph(5, 0, edge_probability=1.5)


# ---------------------------------------------------------------------------
# Boolean circuits and .bench files
# ---------------------------------------------------------------------------


def _evaluate_with_networkx(circuit: BooleanCircuit, assignment) -> dict[str, bool]:
    """Second evaluator: networkx topological order over a signal DAG."""
    graph = nx.DiGraph()
    graph.add_nodes_from(circuit.inputs)
    for name, gate in circuit.gates.items():
        graph.add_node(name)
        graph.add_edges_from((operand, name) for operand in gate.operands)
    values = dict(zip(circuit.inputs, map(bool, assignment), strict=True))
    for node in nx.topological_sort(graph):
        if node in values:
            continue
        gate = circuit.gates[node]
        operand_values = [values[operand] for operand in gate.operands]
        if gate.op == "AND":
            values[node] = all(operand_values)
        elif gate.op == "OR":
            values[node] = any(operand_values)
        else:
            values[node] = not operand_values[0]
    return values


def _all_assignments(circuit: BooleanCircuit):
    return itertools.product((0, 1), repeat=len(circuit.inputs))


class TestBench:
    def test_half_adder(self):
        circuit = read_bench(DATA / "half_adder.bench")
        assert circuit.inputs == ("a", "b")
        assert circuit.outputs == ("sum", "carry")
        for a, b in _all_assignments(circuit):
            outputs = circuit.evaluate([a, b])
            assert outputs["sum"] == (a != b)
            assert outputs["carry"] == (a == 1 and b == 1)

    def test_all_gate_types(self):
        circuit = read_bench(DATA / "all_gate_types.bench")
        assert set(gate.op for gate in circuit.gates.values()) <= {"AND", "OR", "NOT"}
        for gate in circuit.gates.values():
            assert len(gate.operands) == (1 if gate.op == "NOT" else 2)
        for x1, x2, x3, x4 in _all_assignments(circuit):
            out = circuit.evaluate([x1, x2, x3, x4])
            nand = not (x1 and x2 and x3)
            assert out["y_and"] == bool(x1 and x2 and x3 and x4)
            assert out["y_or"] == bool(x1 or x2 or x3)
            assert out["y_nand"] == nand
            assert out["y_nor"] == (not (x2 or x4))
            assert out["y_xor"] == bool((x1 + x2 + x3) % 2)
            assert out["y_xnor"] == (x3 == x4)
            assert out["y_not"] == (not x4)
            assert out["y_buf"] == bool(x2)
            assert out["y_mix"] == (bool(x2) or nand)

    def test_nary_and_is_balanced(self):
        text = "".join(f"INPUT(i{k})\n" for k in range(8))
        text += "OUTPUT(z)\nz = AND(" + ", ".join(f"i{k}" for k in range(8)) + ")\n"
        circuit = parse_bench(text)
        assert len(circuit.gates) == 7
        assert circuit.depth == 3

    def test_helper_names_avoid_clashes(self):
        text = "INPUT(a)\nINPUT(z_1)\nOUTPUT(z)\nz = NAND(a, z_1)\n"
        circuit = parse_bench(text)
        assert "z_2" in circuit.gates
        assert circuit.evaluate([1, 1]) == {"z": False}

    @pytest.mark.parametrize(
        ("fixture", "pattern"),
        [
            ("undefined_signal", r"signal\.bench:3: .* undefined signal 'missing'"),
            ("redefined_signal", r"signal\.bench:4: signal 'a' is redefined"),
            ("unknown_gate", r"unknown_gate\.bench:4: unknown gate type 'MAJ'"),
            ("syntax_error", r"syntax_error\.bench:3: syntax error"),
            ("cycle", r"cycle\.bench:4: signal 'q' is on the cycle q -> r -> p -> q"),
        ],
    )
    def test_error_fixtures(self, fixture, pattern):
        with pytest.raises(FormatError, match=pattern):
            read_bench(DATA / f"{fixture}.bench")

    def test_cycle_report_is_a_real_cycle(self):
        with pytest.raises(FormatError) as error:
            read_bench(DATA / "cycle.bench")
        names = re.search(r"cycle (.*);", str(error.value)).group(1).split(" -> ")
        text = (DATA / "cycle.bench").read_text()
        graph = nx.DiGraph()
        for line in text.splitlines():
            match = re.fullmatch(r"(\w+) = \w+\((.*)\)", line)
            if match:
                for operand in match.group(2).split(", "):
                    graph.add_edge(operand, match.group(1))
        assert names[0] == names[-1]
        for source, target in itertools.pairwise(names):
            assert graph.has_edge(source, target)

    def test_long_cycle_without_recursion(self):
        length = 5000
        lines = ["INPUT(a)", "OUTPUT(g0)"]
        lines += [f"g{k} = AND(a, g{(k + 1) % length})" for k in range(length)]
        with pytest.raises(FormatError, match="is on the cycle"):
            parse_bench("\n".join(lines))

    @pytest.mark.parametrize(
        ("text", "pattern"),
        [
            ("INPUT(a)\nOUTPUT(z)\nz = DFF(a)\n", r"3: DFF is a sequential element"),
            ("INPUT(a)\nOUTPUT(z)\nz = NOT(a, a)\n", r"3: NOT takes 1 operand"),
            ("INPUT(a)\nOUTPUT(z)\nz = AND()\n", r"3: gate 'z' has no operands"),
            ("INPUT(a)\nOUTPUT(b)\n", r"2: OUTPUT\(b\) names an undefined signal"),
            ("INPUT(a)\nOUTPUT(a)\nOUTPUT(a)\n", r"3: OUTPUT\(a\) repeats line 2"),
            ("INPUT(a)\n", r"no OUTPUT line"),
            ("INPUT(a)\nINPUT(a)\nOUTPUT(a)\n", r"2: signal 'a' is redefined"),
        ],
    )
    def test_parse_errors(self, text, pattern):
        with pytest.raises(FormatError, match=pattern):
            parse_bench(text, name="t.bench")

    def test_writer_round_trip(self, tmp_path):
        circuits = [read_bench(DATA / "all_gate_types.bench")]
        circuits += [random_circuit(4, 30, seed, monotone=False) for seed in range(5)]
        for circuit in circuits:
            path = tmp_path / "c.bench"
            write_bench(circuit, path)
            assert read_bench(path) == circuit
            assert parse_bench(format_bench(circuit)) == circuit


class TestBooleanCircuit:
    @pytest.mark.parametrize(
        ("inputs", "gates", "outputs", "pattern"),
        [
            (["a", "a"], {}, ["a"], r"input 'a' is listed twice"),
            (["a"], {"a": ("NOT", ["a"])}, ["a"], r"gate 'a' reuses the name"),
            (["a"], {"z": ("XOR", ["a", "a"])}, ["z"], r"unknown type 'XOR'"),
            (["a"], {"z": ("AND", ["a"])}, ["z"], r"AND takes 2 operand"),
            (["a"], {"z": ("NOT", ["b"])}, ["z"], r"undefined signal 'b'"),
            (["a"], {"z": ("NOT", ["a"])}, [], r"no outputs"),
            (["a"], {"z": ("NOT", ["a"])}, ["y"], r"output 'y' is not"),
            (["a b"], {}, ["a b"], r"input name 'a b' is invalid"),
            (
                ["a"],
                {"p": ("AND", ["a", "q"]), "q": ("OR", ["p", "a"])},
                ["p"],
                r"cycle q -> p -> q",
            ),
        ],
    )
    def test_rejects(self, inputs, gates, outputs, pattern):
        with pytest.raises(ProblemError, match=pattern):
            BooleanCircuit(inputs, gates, outputs)

    def test_gates_in_topological_order(self):
        circuit = BooleanCircuit(
            ["a"], {"z": ("AND", ["y", "a"]), "y": Gate("NOT", ("a",))}, ["z"]
        )
        assert list(circuit.gates) == ["y", "z"]
        assert not circuit.is_monotone
        assert circuit.depth == 2

    @pytest.mark.parametrize(
        ("assignment", "pattern"),
        [
            ({"a": 1}, r"misses inputs \['b'\]"),
            ({"a": 1, "b": 0, "c": 1}, r"unknown inputs \['c'\]"),
            ([1], r"1 values for 2 inputs"),
            ([1, 2], r"input 'b' has value 2"),
        ],
    )
    def test_assignment_errors(self, assignment, pattern):
        circuit = BooleanCircuit(["a", "b"], {"z": ("OR", ["a", "b"])}, ["z"])
        with pytest.raises(ProblemError, match=pattern):
            circuit.evaluate(assignment)

    def test_evaluation_matches_networkx_order(self):
        for seed in range(25):
            circuit = random_circuit(5, 40, seed, monotone=seed % 2 == 0)
            for assignment in _all_assignments(circuit):
                expected = _evaluate_with_networkx(circuit, assignment)
                assert evaluate_circuit(circuit, assignment) == expected

    def test_deep_circuit_without_recursion(self):
        gates = {"g0": ("AND", ["a", "a"])}
        gates.update({f"g{k}": ("OR", [f"g{k - 1}", "a"]) for k in range(1, 20000)})
        circuit = BooleanCircuit(["a"], gates, ["g19999"])
        assert circuit.depth == 20000
        assert circuit.evaluate([1]) == {"g19999": True}

    def test_random_circuit_options(self):
        circuit = random_circuit(3, 10, 0, num_outputs=2)
        assert circuit.outputs == ("g8", "g9")
        assert circuit.is_monotone
        assert random_circuit(3, 10, 5) == random_circuit(3, 10, 5)
        nonmonotone = [random_circuit(3, 30, s, monotone=False) for s in range(5)]
        assert any(not c.is_monotone for c in nonmonotone)
        with pytest.raises(ProblemError, match="at least 1 input"):
            random_circuit(0, 3, 0)
        with pytest.raises(ProblemError, match="num_outputs 4"):
            random_circuit(2, 3, 0, num_outputs=4)


class TestDoubleRail:
    def test_preserves_values(self):
        circuits = [read_bench(DATA / name) for name in ("all_gate_types.bench",)]
        circuits += [random_circuit(5, 40, s, monotone=False) for s in range(20)]
        for circuit in circuits:
            rails = to_monotone(circuit)
            assert rails.circuit.is_monotone
            assert rails.circuit.outputs == circuit.outputs
            binary = sum(gate.op != "NOT" for gate in circuit.gates.values())
            assert len(rails.circuit.gates) <= 2 * binary + len(circuit.outputs)
            for assignment in _all_assignments(circuit):
                expanded = rails.expand_assignment(assignment)
                assert rails.circuit.evaluate(expanded) == circuit.evaluate(assignment)

    def test_negated_input_names(self):
        circuit = BooleanCircuit(["a", "a_not"], {"z": ("NOT", ["a"])}, ["z"])
        rails = to_monotone(circuit)
        assert rails.negated_inputs == {"a": "a_not_1", "a_not": "a_not_not"}
        assert rails.circuit.gates["z"] == Gate("AND", ("a_not_1", "a_not_1"))


# ---------------------------------------------------------------------------
# CVP programs and streams
# ---------------------------------------------------------------------------


class TestCvpProgram:
    def test_program_matches_circuit(self):
        for seed in range(40):
            circuit = random_circuit(4, 25, seed, num_outputs=3)
            for assignment in itertools.islice(_all_assignments(circuit), 0, None, 3):
                values = circuit.evaluate(assignment)
                for output in circuit.outputs:
                    program = circuit_to_cvp_program(circuit, assignment, output)
                    assert evaluate_cvp_program(program) == values[output]
                    assert parse_cvp_bits(cvp_program_bits(program)) == program

    def test_output_that_is_an_input(self):
        circuit = BooleanCircuit(["a", "b"], {"z": ("AND", ["a", "b"])}, ["b"])
        program = circuit_to_cvp_program(circuit, [0, 1])
        assert program.instructions[-1] == GateInstruction("AND", 1, 1)
        assert evaluate_cvp_program(program) is True

    def test_rejects_nonmonotone_and_ambiguous(self):
        nonmonotone = BooleanCircuit(["a"], {"z": ("NOT", ["a"])}, ["z"])
        with pytest.raises(ProblemError, match="to_monotone"):
            circuit_to_cvp_program(nonmonotone, [1])
        two_outputs = random_circuit(2, 4, 0, num_outputs=2)
        with pytest.raises(ProblemError, match="pass output=NAME"):
            circuit_to_cvp_program(two_outputs, [1, 0])

    def test_stream_layout(self):
        circuit = BooleanCircuit(["a", "b"], {"z": ("OR", ["a", "b"])}, ["z"])
        stream = encode_cvp_stream(circuit, [1, 0])
        assert stream == "010011100" + "#" * 29
        assert cvp_padding_length(9) == 29
        assert decode_cvp_stream(stream)[1] == 29
        assert encode_cvp_stream(circuit, [1, 0], padding=0) == "010011100"

    @pytest.mark.parametrize(
        ("bits", "pattern"),
        [
            ("", r"token 0: the program is empty"),
            ("0", r"token 1: program ended inside a constant"),
            ("012", r"token 2: '2' is not a program bit"),
            ("01" + "1", r"token 3: program ended inside a gate type"),
            ("01" + "10" + "10", r"token 2: first operand offset 2"),
            ("01" + "10" + "0", r"token 5: program ended inside the second"),
        ],
    )
    def test_parse_bits_errors(self, bits, pattern):
        with pytest.raises(ProblemError, match=pattern):
            parse_cvp_bits(bits)

    def test_decode_stream_rejects_bits_after_padding(self):
        with pytest.raises(ProblemError, match="token 3: '1' follows the padding"):
            decode_cvp_stream("01#1")

    def test_program_validation(self):
        with pytest.raises(ProblemError, match="offset 1 is not in 1..0"):
            CvpProgram((GateInstruction("AND", 1, 1),))
        with pytest.raises(ProblemError, match="not AND or OR"):
            CvpProgram((ConstantInstruction(True), GateInstruction("XOR", 1, 1)))


# ---------------------------------------------------------------------------
# Stack encodings
# ---------------------------------------------------------------------------

_OPERATIONS = st.lists(st.sampled_from(["push0", "push1", "pop"]), max_size=400)


class TestGappedStack:
    @settings(max_examples=60, deadline=None)
    @given(_OPERATIONS)
    def test_matches_python_list(self, operations):
        stack: list[int] = []
        value = Fraction(0)
        for operation in operations:
            if operation == "pop":
                value = gapped_pop(value)
                if stack:
                    stack.pop()
            else:
                bit = int(operation[-1])
                value = gapped_push(value, bit)
                stack.append(bit)
            assert gapped_nonempty(value) == (1 if stack else 0)
            assert gapped_head(value) == (stack[-1] if stack else 0)
        assert value == gapped_encode(stack)
        assert gapped_decode(value) == stack

    def test_exact_at_depth_200(self):
        rng = random.Random(3)
        stack = [rng.randint(0, 1) for _ in range(200)]
        value = gapped_encode(stack)
        for expected_depth in range(200, 0, -1):
            assert gapped_nonempty(value) == 1
            assert gapped_head(value) == stack[expected_depth - 1]
            value = gapped_pop(value)
        assert value == 0
        assert gapped_pop(value) == 0

    @pytest.mark.parametrize("depth", [0, 1, 5, 64, 100])
    def test_bits_linear_in_depth(self, depth):
        for stack in ([0] * depth, [1] * depth, [k % 2 for k in range(depth)]):
            value = gapped_encode(stack)
            assert value.denominator.bit_length() == 2 * depth + 1
            assert value_bits(value) <= 4 * depth + 1

    def test_decode_rejects_non_encoding(self):
        with pytest.raises(ProblemError, match="not a gapped stack encoding"):
            gapped_decode(Fraction(3, 5))


class TestBase2Ablation:
    def test_exact_threshold_would_work(self):
        value = Fraction(0)
        for bit in (1, 1, 0, 1):
            value = base2_push(value, bit)
        assert value >= 1
        assert base2_head(value, Fraction(1, 8)) == 1

    @pytest.mark.parametrize(
        "ramp_width", [Fraction(1, 2), Fraction(1, 16), Fraction(1, 2**20)]
    )
    def test_fixed_ramp_misreads_deep_stacks(self, ramp_width):
        failing_depth = None
        for ones in range(1, 64):
            value = Fraction(0)
            for _ in range(ones):
                value = base2_push(value, 1)
            value = base2_push(value, 0)  # top is 0 above `ones` ones
            if base2_head(value, ramp_width) != 0:
                failing_depth = ones + 1
                break
        assert failing_depth is not None
        assert Fraction(1, 2 ** (failing_depth - 1)) < ramp_width
        # The gapped encoding reads the same stack exactly.
        gapped = gapped_encode([1] * (failing_depth - 1) + [0])
        assert gapped_head(gapped) == 0

    def test_misread_corrupts_pop(self):
        below = Fraction(0)
        for _ in range(10):
            below = base2_push(below, 1)
        value = base2_push(below, 0)
        popped = base2_pop(value, Fraction(1, 16))
        assert popped != below
        assert base2_head(popped, Fraction(1, 16)) == 0  # the ones below are lost


# ---------------------------------------------------------------------------
# Stack machine
# ---------------------------------------------------------------------------


class TestStackMachine:
    def test_decides_random_monotone_cvp(self):
        rng = np.random.default_rng(8)
        accepted_count = 0
        for _ in range(150):
            circuit = random_circuit(
                int(rng.integers(1, 6)), int(rng.integers(1, 40)), rng
            )
            assignment = [int(bit) for bit in rng.integers(2, size=len(circuit.inputs))]
            expected = circuit.evaluate(assignment)[circuit.outputs[0]]
            stream = encode_cvp_stream(circuit, assignment)
            accepted, run = run_stack_machine(stream)
            program, padding = decode_cvp_stream(stream)
            bits = len(stream) - padding
            assert accepted == expected
            assert run.halted
            assert run.halt_step - bits == 3 * bits + 2 - 2 * len(program.instructions)
            accepted_count += accepted
        assert 20 < accepted_count < 130

    def test_all_bit_strings_up_to_11(self):
        # The machine accepts exactly the valid programs that evaluate to 1.
        count = 0
        for length in range(12):
            for bits in itertools.product("01", repeat=length):
                program_bits = "".join(bits)
                try:
                    expected = evaluate_cvp_program(parse_cvp_bits(program_bits))
                except ProblemError:
                    expected = False
                stream = program_bits + "#" * cvp_padding_length(length)
                accepted, run = run_stack_machine(stream)
                assert accepted == expected, program_bits
                assert run.halted
                count += 1
        assert count == 2**12 - 1

    def test_gapped_backend_matches_and_reports_bits(self):
        for seed in range(10):
            circuit = random_circuit(4, 30, seed)
            assignment = [seed % 2, 1, 0, 1]
            stream = encode_cvp_stream(circuit, assignment)
            accepted_list, run_list = run_stack_machine(stream)
            accepted_gapped, run_gapped = run_stack_machine(stream, backend="gapped")
            assert accepted_gapped == accepted_list
            assert run_gapped.max_depth == run_list.max_depth
            assert run_gapped.stack_operations == run_list.stack_operations
            assert run_list.max_value_bits is None
            assert run_gapped.max_value_bits <= 4 * max(run_gapped.max_depth) + 1
            assert run_gapped.max_value_bits <= 4 * run_gapped.stack_operations + 1
            assert run_gapped.max_value_bits >= 2 * max(run_gapped.max_depth)

    def test_double_rail_pipeline(self):
        for seed in range(10):
            circuit = random_circuit(4, 20, seed, monotone=False)
            rails = to_monotone(circuit)
            for assignment in _all_assignments(circuit):
                expected = circuit.evaluate(assignment)[circuit.outputs[0]]
                expanded = rails.expand_assignment(assignment)
                assert decide_cvp(rails.circuit, expanded) == expected

    def test_too_little_padding_does_not_halt(self):
        circuit = BooleanCircuit(["a", "b"], {"z": ("OR", ["a", "b"])}, ["z"])
        stream = encode_cvp_stream(circuit, [1, 1], padding=10)
        accepted, run = run_stack_machine(stream)
        assert not accepted
        assert not run.halted
        assert run.halt_step is None

    @pytest.mark.parametrize("stream", ["01#1##", "01#x##", "0a"])
    def test_malformed_streams_reject(self, stream):
        accepted, run = run_stack_machine(stream + "#" * 20)
        assert not accepted
        assert run.halted

    def test_trace(self):
        accepted, run = run_stack_machine("01" + "#" * 8, trace=True)
        phases = [step.control.phase for step in run.trace]
        assert accepted
        assert phases[:4] == [Phase.READ, Phase.READ, Phase.REVERSE, Phase.REVERSE]
        assert phases[-1] is Phase.ACCEPT
        assert run.trace[0].actions[2] is StackAction.PUSH0
        assert len(run.trace) == run.steps == 10

    def test_transition_table(self):
        table = stack_transition_table()
        assert len(table) == 44 * 3 * 27
        for (control, token, tops), (_, actions) in table.items():
            for top, action in zip(tops, actions, strict=True):
                if top is None:
                    assert action is not StackAction.POP, (control, token, tops)

    def test_options(self):
        with pytest.raises(ProblemError, match="unknown backend"):
            run_stack_machine("01##", backend="float")
        with pytest.raises(ProblemError, match="above max_steps=3"):
            run_stack_machine("01##", max_steps=3)
