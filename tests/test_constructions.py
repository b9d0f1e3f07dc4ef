"""Tests for circuitlab.constructions: the counter and stack RNNs, ReLU CVP, CLI."""

from __future__ import annotations

import json
import re
import tomllib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuitlab.analysis.metrics import circuit_stats
from circuitlab.cli import main
from circuitlab.compile import compile_model
from circuitlab.constructions import (
    IntegerBatchMlp,
    SparseMlp,
    all_cvp_programs,
    connectivity_counter_spec,
    connectivity_stream,
    construction_model,
    construction_spec,
    cvp_stack_spec,
    decode_counter_state,
    decode_stack_state,
    encode_stack_state,
    evaluate_relu_circuit,
    exhaustive_connectivity,
    far_operand_circuit,
    input_generator,
    precision_by_size,
    program_to_circuit,
    random_connectivity,
    random_cvp_instance,
    random_local_circuit,
    relu_circuit,
    verify_construction,
)
from circuitlab.constructions.counter_rnn import (
    BACKWARD_EDGE_STREAM,
    first_undrained_reset,
)
from circuitlab.constructions.verify import cvp_stream
from circuitlab.constructions.write_specs import SHIPPED_CONSTRUCTIONS, format_spec_toml
from circuitlab.errors import EvaluationError, FormatError, ProblemError
from circuitlab.evaluate import evaluate
from circuitlab.models import build_model
from circuitlab.problems import (
    INITIAL_STACK_CONTROL,
    BooleanCircuit,
    CounterState,
    FunctionalGraph,
    SortedInstance,
    StackAction,
    all_sorted_edge_sets,
    encode_cvp_stream,
    encode_sorted_stream,
    evaluate_circuit,
    evaluate_cvp_program,
    layered_reduction,
    random_circuit,
    run_counter_machine,
    run_stack_machine,
    stack_transition_table,
    to_monotone,
    trace_counter_machine,
)
from circuitlab.spec import parse_spec, shipped_specs

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def counter_spec():
    return parse_spec(connectivity_counter_spec().table, source="<counter>")


@pytest.fixture(scope="module")
def no_guard_spec():
    table = connectivity_counter_spec(idx_guard=False).table
    return parse_spec(table, source="<no guard>")


@pytest.fixture(scope="module")
def stack_spec():
    return parse_spec(cvp_stack_spec().table, source="<stack>")


@pytest.fixture(scope="module")
def exhaustive_queries():
    return exhaustive_connectivity(6, 5)


def _replay(stacks, actions):
    for stack, action in zip(stacks, actions, strict=True):
        if action is StackAction.POP:
            stack.pop()
        elif action is StackAction.PUSH0:
            stack.append(0)
        elif action is StackAction.PUSH1:
            stack.append(1)


# ---------------------------------------------------------------------------
# Specs
# ---------------------------------------------------------------------------


class TestSpecs:
    @pytest.mark.parametrize(
        ("name", "state_dim", "units"),
        [("connectivity-counter", 12, 25), ("cvp-stack", 22, 249)],
    )
    def test_shape_one_hidden_layer(self, name, state_dim, units):
        built = SHIPPED_CONSTRUCTIONS[name]()
        layers = built.table["layers"]
        assert built.table["family"] == "mlp"
        assert built.table["state_dim"] == state_dim
        assert len(layers) == 2
        assert layers[0]["activation"] == "relu"
        assert layers[1]["activation"] == "identity"
        assert built.hidden_units == units
        assert len(built.unit_labels) == len(layers[0]["weight"])

    @pytest.mark.parametrize("name", sorted(SHIPPED_CONSTRUCTIONS))
    def test_shipped_file_matches_builder(self, name):
        path = shipped_specs()[name]
        built = SHIPPED_CONSTRUCTIONS[name]()
        with open(path, "rb") as handle:
            assert tomllib.load(handle) == built.table

    @pytest.mark.parametrize("name", sorted(SHIPPED_CONSTRUCTIONS))
    def test_shipped_text_is_generated(self, name):
        path = shipped_specs()[name]
        text = format_spec_toml(
            SHIPPED_CONSTRUCTIONS[name](),
            generator="python -m circuitlab.constructions.write_specs",
        )
        assert path.read_text(encoding="utf-8") == text

    def test_ablations_are_not_shipped(self):
        assert "connectivity-counter-no-guard" not in shipped_specs()
        assert "cvp-stack-base2" not in shipped_specs()
        assert cvp_stack_spec(encoding="base2").table["state_dim"] == 25

    def test_bad_stack_options(self):
        with pytest.raises(ProblemError, match="unknown encoding"):
            cvp_stack_spec(encoding="base3")
        with pytest.raises(ProblemError, match="ramp_width"):
            cvp_stack_spec(encoding="base2", ramp_width=2)

    @pytest.mark.parametrize(
        ("name", "stream"),
        [
            ("connectivity-counter", "0|0|000|#000$"),
            ("connectivity-counter", "00|0|000|#0$"),
            ("cvp-stack", "010011100" + "#" * 29),
        ],
    )
    def test_compiled_circuit_equals_reference(self, name, stream):
        model = build_model(construction_spec(name))
        circuit = compile_model(model, len(stream), "chain")
        values = evaluate(circuit, model.encode(list(stream)), domain="Q")
        reference = model.reference_states(list(stream))[-1]
        assert list(values["state"][-1]) == list(reference)
        _, accepted = model.reference_readout(reference)
        assert bool(values["accept"][0] > 0) == accepted
        assert (
            circuit_stats(circuit, support=False)["nonlinear_depth"] == len(stream) + 1
        )

    def test_compile_counter_at_200(self):
        model = build_model(construction_spec("connectivity-counter"))
        stats = circuit_stats(compile_model(model, 200, "chain"), support=False)
        assert stats["depth"] == 12 * 200 - 4
        assert stats["nonlinear_depth"] == 201


# ---------------------------------------------------------------------------
# Fast exact runners
# ---------------------------------------------------------------------------


class TestRunners:
    def test_sparse_equals_reference_states(self, counter_spec, stack_spec):
        cases = [
            (counter_spec, "0|0|000|#000$"),
            (counter_spec, "000|0|00|000|0000|#0000$"),
            (stack_spec, encode_cvp_stream(random_circuit(2, 3, 5), [1, 0])),
        ]
        for spec, stream in cases:
            reference = build_model(spec).reference_states(list(stream))
            run = SparseMlp(spec).run(stream, record=True)
            assert [tuple(row) for row in reference] == list(run.states)

    def test_batch_equals_reference_states(self, counter_spec):
        rng = np.random.default_rng(3)
        streams = [
            connectivity_stream(*random_connectivity(1, 2, 9, rng).queries[0])
            for _ in range(20)
        ]
        streams.append("0|#$")  # a rejected stream
        run = IntegerBatchMlp(counter_spec).run(streams, chunk_size=7)
        model = build_model(counter_spec)
        for k, stream in enumerate(streams):
            final = model.reference_states(list(stream))[-1]
            assert [int(v) for v in final] == list(run.final[k])
            assert model.reference_readout(final)[1] == run.accepted[k]

    def test_batch_rejects_non_integer_spec(self, stack_spec):
        with pytest.raises(EvaluationError, match="non-integer"):
            IntegerBatchMlp(stack_spec)

    def test_batch_names_bad_token(self, counter_spec):
        with pytest.raises(EvaluationError, match="stream 1: token 'x'"):
            IntegerBatchMlp(counter_spec).run(["0|#0$", "0|x"])

    def test_sparse_names_bad_token(self, counter_spec):
        with pytest.raises(EvaluationError, match="token '1'"):
            SparseMlp(counter_spec).run("0|1")

    def test_construction_model_reference_states(self):
        model = construction_model("connectivity-counter")
        plain = build_model(construction_spec("connectivity-counter"))
        tokens = model.generate_input(6, np.random.default_rng(0))
        fast = model.reference_states(tokens)
        slow = plain.reference_states(tokens)
        assert fast.shape == slow.shape
        assert (fast == slow).all()


# ---------------------------------------------------------------------------
# Counter RNN for graph connectivity
# ---------------------------------------------------------------------------


def _random_stream(rng: np.random.Generator) -> str:
    """Draw a stream: well formed, with random edge blocks, or random tokens."""
    kind = rng.integers(3)
    if kind == 0:
        return "".join(rng.choice(list("0|#$"), size=int(rng.integers(1, 30))))
    parts = ["0" * int(rng.integers(1, 6)) + "|"]
    for _ in range(int(rng.integers(0, 6))):
        u = int(rng.integers(1, 8))
        v = u + int(rng.integers(0, 5)) if kind == 1 else int(rng.integers(1, 8))
        parts.append("0" * u + "|" + "0" * v + "|")
    parts.append("#" + "0" * int(rng.integers(0, 8)) + "$")
    stream = "".join(parts)
    if rng.random() < 0.3:
        position = int(rng.integers(len(stream)))
        stream = (
            stream[:position] + str(rng.choice(list("0|#$"))) + stream[position + 1 :]
        )
    return stream


class TestCounterRnn:
    def test_decode_initial_and_accept(self, counter_spec):
        run = SparseMlp(counter_spec).run("0|0|000|#000$")
        assert decode_counter_state(run.final) == (CounterState.ACCEPT, 0, 0)
        assert run.accepted

    def test_exhaustive_pipeline_equals_networkx(
        self, counter_spec, exhaustive_queries
    ):
        queries = exhaustive_queries
        run = IntegerBatchMlp(counter_spec).run(queries.streams)
        answers = run.accepted[np.asarray(queries.stream_of)]
        assert len(queries) == 29_367 + 205_014
        assert answers.tolist() == queries.expected
        assert int(run.max_bits.max()) <= 6

    def test_exhaustive_raw_streams_equal_machine(self, counter_spec):
        streams = [
            encode_sorted_stream(SortedInstance(n, s, t, edges))
            for n in range(1, 7)
            for edges in all_sorted_edge_sets(n)
            for s in range(1, n + 1)
            for t in range(1, n + 1)
        ]
        run = IntegerBatchMlp(counter_spec).run(streams)
        machine = [run_counter_machine(stream) for stream in streams]
        assert run.accepted.tolist() == machine

    def test_random_streams_token_by_token(self, counter_spec):
        rng = np.random.default_rng(11)
        runner = SparseMlp(counter_spec)
        checked = 0
        for _ in range(300):
            stream = _random_stream(rng)
            limit = first_undrained_reset(stream)
            states = runner.run(stream, record=True).states
            trace = trace_counter_machine(stream)[1:]
            end = len(stream) if limit is None else limit
            for state, config in zip(states[:end], trace[:end], strict=True):
                decoded = decode_counter_state(state)
                assert decoded.state == config.state
                assert decoded.S == config.S
                if config.state not in (CounterState.EQUAL, CounterState.REJECT):
                    assert decoded.idx == config.idx
            if limit is None:
                checked += 1
                assert runner.readout(states[-1])[1] == run_counter_machine(stream)
        assert checked > 200

    def test_backward_edge_limit(self, counter_spec):
        assert run_counter_machine(BACKWARD_EDGE_STREAM)
        assert not SparseMlp(counter_spec).run(BACKWARD_EDGE_STREAM).accepted
        assert first_undrained_reset(BACKWARD_EDGE_STREAM) == 7

    def test_random_instances_101_to_300(self, counter_spec):
        queries = random_connectivity(24, 101, 300, np.random.default_rng(7))
        run = IntegerBatchMlp(counter_spec).run(queries.streams)
        answers = run.accepted[np.asarray(queries.stream_of)]
        assert answers.tolist() == queries.expected
        assert min(queries.sizes) >= 101
        assert max(queries.sizes) <= 300
        assert 0 < sum(queries.expected) < len(queries)
        assert int(run.max_bits.max()) <= 10

    def test_target_out_edge_is_dropped(self, counter_spec):
        # The walk passes the target and leaves it, so the raw stream is rejected
        # by the machine and the RNN alike although the target is reachable.
        instance = SortedInstance(4, 1, 2, [(1, 2), (2, 3)])
        raw = encode_sorted_stream(instance)
        runner = SparseMlp(counter_spec)
        assert not run_counter_machine(raw)
        assert not runner.run(raw).accepted
        assert connectivity_stream(instance) == "0|0|00|#00$"
        assert runner.run(connectivity_stream(instance)).accepted

    def test_functional_stream_is_layered(self):
        graph = FunctionalGraph(3, {1: 2, 2: 3, 3: 1})
        expected = encode_sorted_stream(layered_reduction(graph, 3, 2))
        assert connectivity_stream(graph, 3, 2) == expected
        with pytest.raises(ProblemError, match="source and target"):
            connectivity_stream(graph)

    def test_no_guard_ablation_is_wrong(self, no_guard_spec):
        queries = exhaustive_connectivity(6, 3)
        run = IntegerBatchMlp(no_guard_spec).run(queries.streams)
        answers = run.accepted[np.asarray(queries.stream_of)]
        wrong = int((answers != np.asarray(queries.expected)).sum())
        assert wrong > 0

    def test_no_guard_ablation_follows_ablated_machine(self, no_guard_spec):
        runner = SparseMlp(no_guard_spec)
        compared = 0
        for n in range(1, 6):
            for edges in all_sorted_edge_sets(n):
                stream = encode_sorted_stream(SortedInstance(n, 1, n, edges))
                if first_undrained_reset(stream, idx_guard=False) is not None:
                    continue
                compared += 1
                expected = run_counter_machine(stream, idx_guard=False)
                assert runner.run(stream).accepted == expected
        assert compared > 100

    def test_decode_rejects_broken_state(self):
        with pytest.raises(ProblemError, match="one-hot"):
            decode_counter_state([0] * 12)
        with pytest.raises(ProblemError, match="canonical"):
            decode_counter_state([1] + [0] * 7 + [1, 1, 0, 0])


# ---------------------------------------------------------------------------
# Stack RNN for CVP
# ---------------------------------------------------------------------------


def _deep_circuit() -> tuple[BooleanCircuit, list[int]]:
    """A circuit whose program has more than 64 bits, so stacks get that deep."""
    inputs = [f"x{i}" for i in range(10)]
    gates = {}
    previous = "x0"
    for k in range(8):
        gates[f"g{k}"] = ("OR" if k % 2 else "AND", [previous, f"x{9 - k}"])
        previous = f"g{k}"
    return BooleanCircuit(inputs, gates, [previous]), [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]


class TestStackRnn:
    def test_transition_table_exhaustive(self, stack_spec):
        runner = SparseMlp(stack_spec)
        model = build_model(stack_spec)
        table = stack_transition_table()
        assert len(table) == 3564
        rng = np.random.default_rng(0)
        for k, ((control, token, tops), (expected, actions)) in enumerate(
            table.items()
        ):
            stacks = []
            for top in tops:
                below = [int(b) for b in rng.integers(0, 2, int(rng.integers(0, 4)))]
                stacks.append([] if top is None else below + [top])
            state = encode_stack_state(control, stacks)
            after = runner.step(state, token)
            if k % 50 == 0:
                reference = model.reference_step(
                    np.array(state, dtype=object), model.embedding[token]
                )
                assert list(reference) == list(after)
            decoded = decode_stack_state(after)
            _replay(stacks, actions)
            assert decoded.control == expected
            assert [list(s) for s in decoded.stacks] == stacks

    def test_all_programs_up_to_3(self, stack_spec):
        runner = SparseMlp(stack_spec)
        programs = list(all_cvp_programs(3))
        assert len(programs) == 2 + 8 + 80
        for program in programs:
            stream = cvp_stream(program)
            assert runner.run(stream).accepted == evaluate_cvp_program(program)

    def test_trace_equals_machine(self, stack_spec):
        rng = np.random.default_rng(2)
        runner = SparseMlp(stack_spec)
        for _ in range(4):
            circuit, assignment = random_cvp_instance(6, rng)
            stream = encode_cvp_stream(circuit, assignment)
            states = runner.run(stream, record=True).states
            _, run = run_stack_machine(stream, trace=True)
            stacks = [[], [], []]
            for state, step in zip(states, run.trace, strict=True):
                _replay(stacks, step.actions)
                decoded = decode_stack_state(state)
                assert decoded.control == step.control
                assert [list(s) for s in decoded.stacks] == stacks

    @pytest.mark.parametrize("monotone", [True, False])
    def test_random_circuits(self, stack_spec, monotone):
        rng = np.random.default_rng(5 if monotone else 6)
        runner = SparseMlp(stack_spec)
        answers = []
        for _ in range(8):
            circuit = random_local_circuit(
                int(rng.integers(3, 16)), rng, monotone=monotone
            )
            assignment = [int(v) for v in rng.integers(0, 2, len(circuit.inputs))]
            expected = evaluate_circuit(circuit, assignment)[circuit.outputs[0]]
            if not monotone:
                rails = to_monotone(circuit)
                circuit, assignment = rails.circuit, rails.expand_assignment(assignment)
            stream = encode_cvp_stream(circuit, assignment)
            assert runner.run(stream).accepted == expected
            answers.append(expected)
        assert len(set(answers)) == 2

    def test_exact_at_depth_64_and_more(self, stack_spec):
        circuit, assignment = _deep_circuit()
        stream = encode_cvp_stream(circuit, assignment)
        accepted, run = run_stack_machine(stream, trace=True)
        assert max(run.max_depth) >= 64
        model = build_model(stack_spec)
        states = model.reference_states(list(stream))
        stacks = [[], [], []]
        for state, step in zip(states, run.trace, strict=True):
            _replay(stacks, step.actions)
            decoded = decode_stack_state(state)
            assert decoded.control == step.control
            assert [list(s) for s in decoded.stacks] == stacks
        assert model.reference_readout(states[-1])[1] == accepted
        assert accepted == evaluate_circuit(circuit, assignment)["g7"]
        bits = max(int(v.denominator).bit_length() for v in states.ravel())
        assert bits >= 2 * 64

    @pytest.mark.parametrize(
        ("width", "deep_inputs"), [("1/8", 4), ("1/64", 8), ("1/1024", 12)]
    )
    def test_base2_ablation_fails_on_deep_stacks(self, stack_spec, width, deep_inputs):
        ablation = SparseMlp(
            parse_spec(cvp_stack_spec(encoding="base2", ramp_width=width).table)
        )
        gapped = SparseMlp(stack_spec)
        names = [f"x{i}" for i in range(deep_inputs)]
        circuit = BooleanCircuit(names, {"z": ("OR", ["x0", names[-1]])}, ["z"])
        stream = encode_cvp_stream(circuit, [1] + [0] * (deep_inputs - 1))
        assert gapped.run(stream).accepted
        assert not ablation.run(stream).accepted

    def test_base2_ablation_right_on_shallow_stacks(self):
        ablation = SparseMlp(
            parse_spec(cvp_stack_spec(encoding="base2", ramp_width="1/1024").table)
        )
        for program in all_cvp_programs(2):
            stream = cvp_stream(program)
            assert ablation.run(stream).accepted == evaluate_cvp_program(program)

    def test_decode_rejects_broken_state(self):
        state = encode_stack_state(INITIAL_STACK_CONTROL, [[1], [], []])
        state[-2] = Fraction(1)  # temp marked nonempty while empty
        with pytest.raises(ProblemError, match="cached bits"):
            decode_stack_state(state)


# ---------------------------------------------------------------------------
# Monotone CVP in ReLU gates
# ---------------------------------------------------------------------------


class TestReluCvp:
    @given(
        st.integers(min_value=1, max_value=6),
        st.integers(min_value=1, max_value=40),
        st.integers(min_value=0, max_value=2**32 - 1),
    )
    def test_equals_reference_evaluation(self, inputs, gates, seed):
        rng = np.random.default_rng(seed)
        circuit = random_circuit(inputs, gates, rng, num_outputs=min(3, gates))
        assignment = [int(v) for v in rng.integers(0, 2, inputs)]
        got = evaluate_relu_circuit(circuit, assignment)
        reference = circuit.evaluate(assignment)
        assert [int(v) for v in got] == [int(reference[o]) for o in circuit.outputs]

    def test_depths(self):
        circuit = random_circuit(8, 300, 1)
        stats = circuit_stats(relu_circuit(circuit), support=False)
        assert stats["nonlinear_depth"] == circuit.depth
        assert stats["depth"] <= 4 * circuit.depth

    def test_programs_up_to_3(self):
        for program in all_cvp_programs(3):
            circuit, assignment = program_to_circuit(program)
            value = evaluate_relu_circuit(circuit, assignment)[0]
            assert value == int(evaluate_cvp_program(program))

    def test_rejects_not_gates(self):
        circuit = BooleanCircuit(["a"], {"z": ("NOT", ["a"])}, ["z"])
        with pytest.raises(ProblemError, match="to_monotone"):
            relu_circuit(circuit)

    def test_double_rail_round_trip(self):
        circuit = random_circuit(4, 30, 9, monotone=False)
        rails = to_monotone(circuit)
        for bits in range(16):
            assignment = [(bits >> i) & 1 for i in range(4)]
            got = evaluate_relu_circuit(
                rails.circuit, rails.expand_assignment(assignment)
            )
            expected = circuit.evaluate(assignment)
            assert [int(v) for v in got] == [int(expected[o]) for o in circuit.outputs]


# ---------------------------------------------------------------------------
# Verification, precision, generators
# ---------------------------------------------------------------------------


class TestVerify:
    @pytest.mark.parametrize(
        ("name", "workload"),
        [
            (
                "graph-connectivity",
                {"exhaustive_max": 3, "random_count": 6, "size_range": (5, 30)},
            ),
            (
                "cvp-stack",
                {"exhaustive_max": 2, "random_count": 4, "size_range": (3, 8)},
            ),
            (
                "cvp-relu",
                {"exhaustive_max": 3, "random_count": 10, "size_range": (3, 50)},
            ),
        ],
    )
    def test_small_workload_agrees(self, name, workload):
        report = verify_construction(name, **workload)
        assert report.ok
        assert report.accuracy == 1.0
        assert report.checked == report.correct > 0
        assert report.cross_checked > 0
        assert report.nonlinear_depth is not None
        assert report.depth >= report.nonlinear_depth

    def test_reports_disagreement(self, monkeypatch, no_guard_spec):
        import circuitlab.constructions.verify as verify_module

        monkeypatch.setattr(
            verify_module, "construction_spec", lambda name: no_guard_spec
        )
        report = verify_construction(
            "graph-connectivity",
            exhaustive_max=4,
            random_count=0,
            compile_largest=False,
        )
        assert not report.ok
        assert report.correct < report.checked
        assert report.failures

    def test_unknown_construction(self):
        with pytest.raises(ProblemError, match="unknown construction"):
            verify_construction("graph-coloring")

    def test_precision_by_size(self):
        counter = precision_by_size("graph-connectivity", [8, 64, 256], 0, samples=4)
        for point in counter:
            assert point.max_bits <= np.log2(point.size) + 3
        stack = precision_by_size("cvp-stack", [8, 16, 32], 0, samples=2)
        assert stack[1].max_bits > 1.7 * stack[0].max_bits
        assert stack[2].max_bits > 1.7 * stack[1].max_bits
        relu = precision_by_size("cvp-relu", [8, 128], 0, samples=2)
        assert max(p.max_bits for p in relu) <= 3

    @pytest.mark.parametrize("n", [1, 2, 7, 30])
    def test_input_generators(self, n):
        rng = np.random.default_rng(n)
        tokens = input_generator("connectivity-counter")(n, rng)
        assert tokens[-1] == "$"
        assert set(tokens) <= {"0", "|", "#", "$"}
        stack_tokens = input_generator("cvp-stack")(n, rng)
        assert set(stack_tokens) <= {"0", "1", "#"}
        assert len(stack_tokens) == len(input_generator("cvp-stack")(n, rng))
        assert input_generator("elman") is None

    def test_far_operand_circuit_has_longest_program(self):
        rng = np.random.default_rng(0)
        circuit, assignment = far_operand_circuit(40, rng)
        far = len(encode_cvp_stream(circuit, assignment))
        local = random_local_circuit(40, rng, window=8)
        near = encode_cvp_stream(local, [0] * len(local.inputs))
        assert far >= len(near)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


class TestReduceCli:
    def test_sorted_instance(self, tmp_path, capsys):
        path = _write(tmp_path / "g.txt", "vertices 4\nsource 1\ntarget 2\n1 2\n2 3\n")
        assert main(["reduce", "graph-connectivity", path]) == 0
        assert capsys.readouterr().out == "0|0|00|#00$\n"

    def test_functional_graph(self, tmp_path, capsys):
        text = "vertices 3\nsource 3\ntarget 2\n1 2\n2 3\n3 1\n"
        path = _write(tmp_path / "f.txt", text)
        assert main(["reduce", "graph-connectivity", path]) == 0
        stream = capsys.readouterr().out.strip()
        graph = FunctionalGraph(3, {1: 2, 2: 3, 3: 1})
        assert stream == connectivity_stream(graph, 3, 2)

    def test_stream_input_and_query_override(self, tmp_path, capsys):
        path = _write(tmp_path / "s.txt", "0|0|000|\n#000$\n")
        assert main(["reduce", "graph-connectivity", path, "--target", "2"]) == 0
        assert capsys.readouterr().out == "0|0|000|#00$\n"
        # Target 1 has the out-edge 1 -> 3, which the reduction drops.
        assert main(["reduce", "graph-connectivity", path, "--target", "1"]) == 0
        assert capsys.readouterr().out == "0|#0$\n"

    def test_output_file(self, tmp_path):
        path = _write(tmp_path / "g.txt", "vertices 3\nsource 1\ntarget 3\n1 3\n")
        out = tmp_path / "stream.txt"
        assert main(["reduce", "graph-connectivity", path, "-o", str(out)]) == 0
        assert out.read_text() == "0|0|000|#000$\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt", "stream.txt"]

    @pytest.mark.parametrize(
        ("text", "options", "pattern"),
        [
            (
                "vertices 4\nsource 4\ntarget 2\n4 1\n4 2\n",
                [],
                r"g\.txt:5: vertex 4 has a second out-edge",
            ),
            (
                "vertices 4\nsource 1\ntarget 4\n2 3\n1 4\n",
                ["--form", "sorted"],
                r"g\.txt:5: edge 1 -> 4 is out of order",
            ),
            ("0|00|0|#0$", [], r"invalid stream: token \d+"),
            ("0|0|0#0$", ["--form", "stream"], r"token 5: expected '\|'"),
            ("vertices 3\n1 2\n", [], "has no query"),
            ("vertices 3\nsource 1\ntarget 3\n1 x\n", [], r"g\.txt:4"),
        ],
    )
    def test_graph_errors_name_the_place(
        self, tmp_path, capsys, text, options, pattern
    ):
        path = _write(tmp_path / "g.txt", text)
        out = tmp_path / "out.txt"
        status = main(["reduce", "graph-connectivity", path, *options, "-o", str(out)])
        assert status == 2
        assert not out.exists()
        error = capsys.readouterr().err
        assert error.startswith("error: ")
        assert error.count("\n") == 1
        assert re.search(pattern, error), error

    def test_missing_file(self, tmp_path):
        from circuitlab.constructions import read_connectivity_instance

        with pytest.raises(FormatError, match="cannot read instance file"):
            read_connectivity_instance(tmp_path / "absent.txt")

    def test_cvp_stream(self, capsys):
        bench = str(DATA / "half_adder.bench")
        text = (DATA / "half_adder.bench").read_text()
        assert "OUTPUT" in text
        status = main(
            ["reduce", "cvp", bench, "--assign", "a=1,b=1", "--signal", "sum"]
        )
        stream = capsys.readouterr().out.strip()
        assert status == 0
        assert set(stream) <= {"0", "1", "#"}
        accepted, _ = run_stack_machine(stream)
        assert accepted is False  # 1 XOR 1

    def test_cvp_nand_double_rail(self, tmp_path, capsys):
        bench = _write(
            tmp_path / "n.bench", "INPUT(a)\nINPUT(b)\nOUTPUT(z)\nz = NAND(a, b)\n"
        )
        for values, expected in (("a=1,b=1", False), ("a=0,b=1", True)):
            assert main(["reduce", "cvp", bench, "--assign", values]) == 0
            stream = capsys.readouterr().out.strip()
            assert run_stack_machine(stream)[0] is expected

    @pytest.mark.parametrize(
        ("fixture", "options", "pattern"),
        [
            (
                "undefined_signal.bench",
                ["--assign", "a=1"],
                r"undefined_signal\.bench:3",
            ),
            ("cycle.bench", ["--assign", "a=1"], r"cycle\.bench:\d+: signal"),
            ("half_adder.bench", ["--assign", "a=1"], "have no value"),
            ("half_adder.bench", ["--assign", "a=1,b=2"], "is not NAME=0"),
            ("half_adder.bench", ["--assign", "a=1,b=0,c=1"], "unknown inputs"),
        ],
    )
    def test_cvp_errors(self, capsys, fixture, options, pattern):
        status = main(["reduce", "cvp", str(DATA / fixture), *options])
        assert status == 2
        error = capsys.readouterr().err
        assert re.search(pattern, error), error


class TestVerifyCli:
    def test_json_report(self, capsys):
        status = main(
            [
                "verify",
                "graph-connectivity",
                "--exhaustive-max",
                "3",
                "--random",
                "3",
                "--size-range",
                "5..12",
                "--json",
            ]
        )
        assert status == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] is True
        assert report["accuracy"] == 1.0
        assert report["nonlinear_depth"] == report["largest_length"] + 1

    def test_exit_status_1_on_disagreement(self, monkeypatch, capsys, no_guard_spec):
        import circuitlab.constructions.verify as verify_module

        monkeypatch.setattr(
            verify_module, "construction_spec", lambda name: no_guard_spec
        )
        status = main(
            [
                "verify",
                "graph-connectivity",
                "--exhaustive-max",
                "4",
                "--random",
                "0",
                "--no-compile",
            ]
        )
        assert status == 1
        assert "DISAGREEMENT" in capsys.readouterr().out

    @pytest.mark.parametrize("bad", ["5..x", "9..3", "0..4"])
    def test_bad_size_range(self, capsys, bad):
        assert main(["verify", "cvp-relu", "--size-range", bad]) == 2
        assert "--size-range" in capsys.readouterr().err
