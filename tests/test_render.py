"""Tests of circuit drawings: SVG structure, ranks, grouping, dot handling, CLI."""

from __future__ import annotations

import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import Op
from circuitlab.cli import main
from circuitlab.compile import compile_model
from circuitlab.errors import CircuitlabError, FormatError
from circuitlab.models import build_model, free_model
from circuitlab.render import (
    comparison_to_dot,
    install,
    render_circuit,
    render_comparison,
    repr_svg,
    to_dot,
)
from circuitlab.render.critical import (
    critical_path_by_depth,
    critical_path_from_inputs,
)
from circuitlab.render.runner import INSTALL_COMMANDS
from circuitlab.spec import load_spec

pytestmark = pytest.mark.skipif(
    shutil.which("dot") is None, reason="needs the Graphviz dot program"
)

SVG = "{http://www.w3.org/2000/svg}"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


# ---------------------------------------------------------------- helpers


def compiled(name: str, n: int, strategy: str | None = None, **options) -> Circuit:
    model = build_model(load_spec(name))
    strategy = strategy or ("tree" if model.is_linear else "chain")
    return compile_model(model, n, strategy, **options)


def free_prefix(strategy: str, n: int = 8) -> Circuit:
    return compile_model(free_model("diagonal", 1), n, strategy, outputs="all")


def parse_svg(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def classes_of(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def groups_with(root: ET.Element, token: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if token in classes_of(g)]


def center_y(group: ET.Element) -> float:
    """Return the vertical centre of a node's outline (ellipse, polygon or path)."""
    values: list[float] = []
    for child in group.iter():
        tag = child.tag.removeprefix(SVG)
        if tag == "ellipse":
            cy, ry = float(child.get("cy")), float(child.get("ry"))
            values += [cy - ry, cy + ry]
        elif tag in ("polygon", "path"):
            text = child.get("points") or child.get("d")
            numbers = [float(x) for x in _NUMBER.findall(text)]
            values += numbers[1::2]
    assert values, f"node {group.get('id')} has no outline"
    return (min(values) + max(values)) / 2


def node_text(group: ET.Element) -> list[str]:
    return [text.text or "" for text in group.iter(f"{SVG}text")]


def edge_ends(group: ET.Element) -> tuple[str, str]:
    title = group.find(f"{SVG}title").text
    tail, head = title.split("->")
    return tail, head


def shown_operand_slots(circuit: Circuit) -> int:
    """Count operand slots whose operand is drawn at gate level (not a constant)."""
    return int((circuit.op[circuit.fanin] != Op.CONST).sum())


def hand_circuit() -> Circuit:
    """Return x*(y+1) with relu, no blocks: 3 gates, depth 3."""
    c = Circuit()
    x = c.add_input("x", (2,))
    total = c.add(x[1], c.const(1))
    c.set_output("y", c.relu(c.mul(x[0], total)))
    return c


@pytest.fixture
def no_dot_path(tmp_path, monkeypatch):
    """Point PATH at an empty directory, so shutil.which finds no dot."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def fake_dot(tmp_path: Path, monkeypatch, body: str) -> Path:
    """Install a shell script named dot first on PATH."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    script = folder / "dot"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return script


# ---------------------------------------------------------------- gate level


def test_gate_level_draws_every_gate_and_input(tmp_path):
    circuit = compiled("elman", 4)
    result = render_circuit(circuit, tmp_path / "elman.svg")
    root = parse_svg(result.path)
    assert result.level == "gate"
    assert len(groups_with(root, "gate")) == circuit.num_gates
    assert len(groups_with(root, "input")) == circuit.num_inputs
    assert len(groups_with(root, "wire")) == shown_operand_slots(circuit)
    assert len(groups_with(root, "ruler")) == circuit.max_depth() + 1
    assert result.nodes == circuit.num_gates + circuit.num_inputs
    assert result.edges == shown_operand_slots(circuit)


def test_gate_level_counts_all_node_classes(tmp_path):
    circuit = compiled("elman", 4)
    root = parse_svg(render_circuit(circuit, tmp_path / "e.svg").path)
    nodes = groups_with(root, "node")
    edges = groups_with(root, "edge")
    rulers = circuit.max_depth() + 1
    assert len(nodes) == circuit.num_gates + circuit.num_inputs + rulers
    # Invisible ruler and ordering edges are drawn as edges too.
    assert len(edges) >= shown_operand_slots(circuit)


@pytest.mark.parametrize(
    "circuit_factory",
    [
        lambda: compiled("elman", 4),
        lambda: compiled("diagonal", 6, "sklansky"),
        lambda: free_prefix("brent-kung", 8),
    ],
    ids=["elman-chain", "diagonal-sklansky", "free-brent-kung"],
)
def test_gate_ranks_equal_depths(tmp_path, circuit_factory):
    circuit = circuit_factory()
    root = parse_svg(render_circuit(circuit, tmp_path / "c.svg").path)
    by_depth: dict[int, list[float]] = {}
    for group in groups_with(root, "gate") + groups_with(root, "input"):
        node = int(group.get("id").removeprefix("n"))
        by_depth.setdefault(int(circuit.depth[node]), []).append(center_y(group))
    for depth, ys in by_depth.items():
        assert max(ys) - min(ys) < 0.5, f"depth {depth} spans y {min(ys)}..{max(ys)}"
    depths = sorted(by_depth)
    rows = [by_depth[d][0] for d in depths]
    assert depths == list(range(circuit.max_depth() + 1))
    assert all(upper < lower for upper, lower in pairwise(rows))


def test_gate_labels_name_inputs_outputs_constants(tmp_path):
    circuit = compiled("elman", 4)
    root = parse_svg(render_circuit(circuit, tmp_path / "e.svg").path)
    texts = {line for group in groups_with(root, "node") for line in node_text(group)}
    assert "x_1[1]" in texts
    assert "x_4[0]" in texts
    assert "h_4[0]" in texts
    assert "h_4[1]" in texts
    assert "readout" in texts
    assert "accept" in texts
    assert "+ -1/2" in texts  # the readout bias is written inside its gate
    assert len(groups_with(root, "const")) == 0


def test_gate_level_title_states_model_and_stats(tmp_path):
    circuit = compiled("elman", 4)
    root = parse_svg(render_circuit(circuit, tmp_path / "e.svg", title="parity").path)
    graph = groups_with(root, "graph")[0]
    title = " ".join(text.text or "" for text in graph.findall(f"{SVG}text"))
    assert "parity" in title
    assert "elman" in title
    assert "strategy chain" in title
    assert "n = 4" in title
    assert f"size {circuit.num_gates} gates" in title
    assert f"depth {circuit.max_depth()}" in title
    assert "legend" in title


def test_critical_path_marked_on_svg(tmp_path):
    circuit = compiled("elman", 4)
    root = parse_svg(render_circuit(circuit, tmp_path / "e.svg").path)
    nodes = {
        g.get("id") for g in groups_with(root, "node") if "critical" in classes_of(g)
    }
    edges = [
        edge_ends(g) for g in groups_with(root, "wire") if "critical" in classes_of(g)
    ]
    assert len(nodes) == circuit.max_depth() + 1
    assert len(edges) == circuit.max_depth()
    heads = {head for _, head in edges}
    tails = {tail for tail, _ in edges}
    (start,) = tails - heads
    (end,) = heads - tails
    assert circuit.op[int(start.removeprefix("n"))] == Op.INPUT
    assert int(end.removeprefix("n")) in set(circuit.output_ids().tolist())


def _reference_distances(circuit: Circuit) -> list[int]:
    """Longest path from an input, one node at a time (-1: no input below)."""
    ptr = circuit.fanin_ptr.astype(np.int64)
    distance = []
    for node in range(circuit.num_nodes):
        op = circuit.op[node]
        if op == Op.INPUT:
            distance.append(0)
        elif op == Op.CONST:
            distance.append(-1)
        else:
            best = max(
                distance[int(k)] for k in circuit.fanin[ptr[node] : ptr[node + 1]]
            )
            distance.append(best + 1 if best >= 0 else -1)
    return distance


@given(
    seed=st.integers(0, 2**32 - 1),
    gates=st.integers(1, 40),
    fold=st.booleans(),
)
def test_critical_path_is_longest_input_path(seed, gates, fold):
    rng = np.random.default_rng(seed)
    c = Circuit(fold=fold)
    nodes = list(c.add_input("x", (3,)))
    nodes += [c.const(2), c.const(0)]
    builders = [c.add, c.sub, c.mul]
    for _ in range(gates):
        a, b = rng.choice(len(nodes), size=2)
        nodes.append(int(builders[rng.integers(3)](nodes[a], nodes[b])))
    c.set_output("y", np.array(nodes[-3:]))
    path = critical_path_from_inputs(c)
    distance = _reference_distances(c)
    best = max(distance[int(k)] for k in c.output_ids())
    if best < 0:
        assert path.size == 0
        return
    assert len(path) == best + 1
    assert c.op[path[0]] == Op.INPUT
    assert int(path[-1]) in set(c.output_ids().tolist())
    ptr = c.fanin_ptr.astype(np.int64)
    for tail, head in pairwise(path.tolist()):
        assert tail in c.fanin[ptr[head] : ptr[head + 1]]


def test_critical_path_by_depth_reaches_input():
    circuit = compiled("pd", 8)
    path = critical_path_by_depth(circuit)
    assert len(path) == circuit.max_depth() + 1
    assert circuit.op[path[0]] == Op.INPUT


def test_critical_path_by_depth_skips_leading_constant():
    c = Circuit()
    x = c.add_input("x", (1,))
    c.set_output("y", c.relu(c.mul(c.const(2), x[0])))
    path = critical_path_by_depth(c)
    assert path.tolist()[0] == int(x[0])
    assert len(path) == 3


# ---------------------------------------------------------------- block level


def _block_label_gates(group: ET.Element) -> int:
    for line in node_text(group):
        match = re.match(r"([\d,]+) gates?, depth", line)
        if match:
            return int(match.group(1).replace(",", ""))
    raise AssertionError(f"no gate count in {node_text(group)}")


def _reference_block_links(circuit: Circuit) -> set[tuple[int, int]]:
    """Distinct (operand block, gate block) pairs over non-empty blocks, by a loop."""
    ptr = circuit.fanin_ptr.astype(np.int64)
    links = set()
    for node in range(circuit.num_nodes):
        for operand in circuit.fanin[ptr[node] : ptr[node + 1]]:
            tail, head = int(circuit.block[operand]), int(circuit.block[node])
            is_gate = circuit.op[operand] not in (Op.INPUT, Op.CONST)
            if is_gate and tail != head:
                links.add((tail, head))
    return links


def test_block_level_counts_blocks_and_links(tmp_path):
    circuit = compiled("pd", 16)
    result = render_circuit(circuit, tmp_path / "pd.svg", level="block")
    root = parse_svg(result.path)
    blocks = groups_with(root, "block")
    non_empty = len(np.unique(circuit.block[circuit.block >= 0]))
    assert result.level == "block"
    assert len(blocks) == non_empty
    assert sum(_block_label_gates(g) for g in blocks) == circuit.num_gates
    assert len(groups_with(root, "link")) == len(_reference_block_links(circuit))


def block_rows(root: ET.Element, prefix: str = "") -> dict[int, list[float]]:
    """Return the y centres of block nodes by the deepest depth in their label."""
    by_depth: dict[int, list[float]] = {}
    for group in groups_with(root, "block"):
        if not group.get("id").startswith(prefix):
            continue
        label = next(x for x in node_text(group) if ", depth " in x)
        deepest = int(label.split("depth ")[1].split("..")[-1])
        by_depth.setdefault(deepest, []).append(center_y(group))
    return by_depth


def test_block_ranks_follow_max_depth(tmp_path):
    circuit = compiled("diagonal", 16, "kogge-stone", outputs="all")
    root = parse_svg(render_circuit(circuit, tmp_path / "k.svg", level="block").path)
    by_depth = block_rows(root)
    for depth, ys in by_depth.items():
        assert max(ys) - min(ys) < 0.5, f"depth {depth} spans y {min(ys)}..{max(ys)}"
    rows = [by_depth[d][0] for d in sorted(by_depth)]
    assert all(upper < lower for upper, lower in pairwise(rows))


def test_block_grouping_keeps_every_gate(tmp_path):
    circuit = compiled("pd", 64)
    result = render_circuit(circuit, tmp_path / "g.svg", level="block", node_cap=12)
    root = parse_svg(result.path)
    blocks = groups_with(root, "block")
    graph_text = " ".join(
        t.text or "" for t in groups_with(root, "graph")[0].iter(f"{SVG}text")
    )
    assert len(blocks) <= 12
    assert sum(_block_label_gates(g) for g in blocks) == circuit.num_gates
    assert "grouped into" in graph_text
    assert any("grouped into" in note for note in result.notes)


def test_block_level_unlabelled_gates_form_one_node(tmp_path):
    circuit = hand_circuit()
    root = parse_svg(render_circuit(circuit, tmp_path / "h.svg", level="block").path)
    (block,) = groups_with(root, "block")
    assert "unlabelled gates" in node_text(block)
    assert _block_label_gates(block) == 3


def test_auto_level_switches_above_node_cap(tmp_path, caplog):
    small = render_circuit(compiled("elman", 4), tmp_path / "small.svg")
    caplog.set_level("INFO", logger="circuitlab.render.api")
    large = render_circuit(compiled("pd", 16), tmp_path / "large.svg")
    assert small.level == "gate"
    assert large.level == "block"
    assert "exceed the node cap 400" in large.notes[0]
    assert "exceed the node cap 400" in caplog.text


def test_two_layer_network_block_level(tmp_path):
    circuit = compiled("elman-2layer", 8)
    result = render_circuit(circuit, tmp_path / "two.svg", level="block")
    root = parse_svg(result.path)
    titles = [node_text(g)[0] for g in groups_with(root, "block")]
    assert any(title.startswith("layer 2 ") for title in titles)
    assert (
        sum(_block_label_gates(g) for g in groups_with(root, "block"))
        == circuit.num_gates
    )


# ---------------------------------------------------------------- comparison


def test_comparison_shares_depth_scale(tmp_path):
    left = compiled("diagonal", 8, "chain")
    right = compiled("diagonal", 8, "tree")
    result = render_comparison([left, right], tmp_path / "cmp.svg")
    root = parse_svg(result.path)
    assert len(groups_with(root, "cluster")) == 2
    rows: dict[int, list[float]] = {}
    for side, circuit in enumerate((left, right)):
        gates = [
            g for g in groups_with(root, "gate") if g.get("id").startswith(f"p{side}_")
        ]
        assert len(gates) == circuit.num_gates
        for group in gates:
            node = int(group.get("id").removeprefix(f"p{side}_n"))
            rows.setdefault(int(circuit.depth[node]), []).append(center_y(group))
    for depth, ys in rows.items():
        assert max(ys) - min(ys) < 0.5, f"depth {depth} differs between the panels"
    assert (
        len(groups_with(root, "ruler")) == max(left.max_depth(), right.max_depth()) + 1
    )


def test_comparison_titles_each_side(tmp_path):
    circuits = [compiled("elman", 4), compiled("diagonal", 4)]
    root = parse_svg(
        render_comparison(
            circuits, tmp_path / "c.svg", panel_titles=["chain", "tree"]
        ).path
    )
    headings = [
        " ".join(t.text or "" for t in cluster.iter(f"{SVG}text") if t.text)
        for cluster in groups_with(root, "cluster")
    ]
    assert "chain" in headings[0]
    assert "elman" in headings[0]
    assert "tree" in headings[1]
    assert "diagonal" in headings[1]


def test_comparison_auto_uses_total_gates(tmp_path):
    circuits = [compiled("elman", 16), compiled("pd", 16)]
    result = render_comparison(circuits, tmp_path / "c.svg")
    root = parse_svg(result.path)
    left, right = block_rows(root, "p0_"), block_rows(root, "p1_")
    shared = sorted(set(left) & set(right))
    assert result.level == "block"
    assert len(groups_with(root, "cluster")) == 2
    assert shared, "no depth has blocks on both sides"
    for depth in shared:
        ys = left[depth] + right[depth]
        assert max(ys) - min(ys) < 0.5, f"depth {depth} spans y {min(ys)}..{max(ys)}"


# ---------------------------------------------------------------- dot program


def test_missing_dot_writes_source_and_install_hint(tmp_path, no_dot_path):
    target = tmp_path / "e.svg"
    result = render_circuit(compiled("elman", 4), target)
    assert result.dot_missing
    assert not target.exists()
    assert result.path == tmp_path / "e.dot"
    assert result.path.read_text().startswith("digraph")
    assert result.install_command in INSTALL_COMMANDS.values()
    assert "apt-get install graphviz" in result.notes[-1]
    assert "brew install graphviz" in result.notes[-1]


def test_missing_dot_cli_prints_install_command(tmp_path, no_dot_path, capsys):
    status = main(
        ["render", "--model", "elman", "--n", "4", "-o", str(tmp_path / "e.svg")]
    )
    captured = capsys.readouterr()
    # The .dot source is written, but the requested SVG is not: exit status 1.
    assert status == 1
    assert "install Graphviz" in captured.err
    assert (tmp_path / "e.dot").exists()
    assert not (tmp_path / "e.svg").exists()


def test_dot_format_needs_no_graphviz(tmp_path, no_dot_path):
    result = render_circuit(compiled("elman", 4), tmp_path / "e.gv")
    assert result.format == "dot"
    assert not result.dot_missing
    assert "rank=same" in result.path.read_text()


def test_dot_timeout_stops_dot_and_keeps_old_file(tmp_path, monkeypatch):
    pid_file = tmp_path / "child.pid"
    fake_dot(tmp_path, monkeypatch, f"sleep 30 &\necho $! > {pid_file}\nwait")
    target = tmp_path / "out.svg"
    target.write_text("old drawing")
    start = time.monotonic()
    with pytest.raises(FormatError, match=r"timed out after 0.5 s .*--level block"):
        render_circuit(compiled("elman", 4), target, timeout=0.5)
    assert time.monotonic() - start < 10
    assert target.read_text() == "old drawing"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    if not Path("/proc").is_dir():
        return
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the child of the timed-out dot still runs"


def _alive(pid: int) -> bool:
    """Return True while ``pid`` runs; a zombie waiting to be reaped has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_dot_failure_raises_with_message(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, "echo 'Error: syntax error in line 3' >&2\nexit 1")
    target = tmp_path / "out.svg"
    with pytest.raises(
        FormatError, match="dot failed on the generated graph: Error: syntax"
    ):
        render_circuit(compiled("elman", 4), target)
    assert not target.exists()


def test_png_and_pdf_are_written(tmp_path):
    circuit = compiled("elman", 2)
    png = render_circuit(circuit, tmp_path / "e.png")
    pdf = render_circuit(circuit, tmp_path / "e.out", format="pdf")
    assert png.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.path.read_bytes()[:5] == b"%PDF-"


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"level": "gates"},
            "unknown drawing level 'gates'; use one of auto, gate, block",
        ),
        ({"format": "jpeg"}, "unknown output format 'jpeg'"),
        ({"node_cap": 0}, "node cap must be a positive integer, got 0"),
        ({"timeout": 0}, "timeout must be a positive number of seconds, got 0"),
    ],
)
def test_render_rejects_bad_options(tmp_path, options, message):
    with pytest.raises(CircuitlabError, match=re.escape(message)):
        render_circuit(hand_circuit(), tmp_path / "x.svg", **options)


def test_render_rejects_unknown_suffix(tmp_path):
    with pytest.raises(FormatError, match=r"cannot infer the output format .* '\.jpg'"):
        render_circuit(hand_circuit(), tmp_path / "x.jpg")


def test_render_rejects_missing_directory(tmp_path):
    with pytest.raises(FormatError, match="not found"):
        render_circuit(hand_circuit(), tmp_path / "missing" / "x.svg")


def test_render_rejects_non_circuit(tmp_path):
    with pytest.raises(FormatError, match="expected a circuitlab Circuit"):
        render_circuit("elman", tmp_path / "x.svg")


def test_comparison_needs_two_circuits():
    with pytest.raises(FormatError, match="at least two circuits, got 1"):
        comparison_to_dot([hand_circuit()])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--model", "elman", "--n", "0"], "--n must be a positive integer, got 0"),
        (["--model", "elman", "--n", "-3"], "--n must be a positive integer, got -3"),
        (["--model", "elman", "--n", "4", "--level", "all"], "'all' is not one of"),
        (["--model", "elman", "--compare", "a", "b", "--n", "4"], "exclude each other"),
        (["--n", "4"], "missing --model"),
        (
            ["--model", "elman", "--n", "4", "--strategy", "tree"],
            "use --strategy chain",
        ),
    ],
)
def test_cli_rejects_bad_input(tmp_path, capsys, arguments, message):
    status = main(["render", *arguments, "-o", str(tmp_path / "x.svg")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert not (tmp_path / "x.svg").exists()


# ---------------------------------------------------------------- CLI and API glue


def test_cli_render_infers_format(tmp_path, capsys):
    target = tmp_path / "e.png"
    status = main(["render", "--model", "elman", "--n", "3", "-o", str(target)])
    assert status == 0
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert "gate level" in capsys.readouterr().out


def test_cli_compare_two_models(tmp_path, capsys):
    target = tmp_path / "cmp.svg"
    status = main(
        ["render", "--compare", "elman", "pd", "--n", "16", "-o", str(target)]
    )
    out = capsys.readouterr()
    assert status == 0
    assert len(groups_with(parse_svg(target), "cluster")) == 2
    assert "block level" in out.out
    assert "exceed the node cap" in out.err


def test_cli_compare_two_strategies(tmp_path):
    target = tmp_path / "cmp.svg"
    arguments = ["--model", "diagonal", "--free", "--state-dim", "1", "--n", "8"]
    status = main(
        ["render", *arguments, "-s", "sklansky", "-s", "serial", "-o", str(target)]
    )
    root = parse_svg(target)
    headings = [
        " ".join(t.text or "" for t in c.iter(f"{SVG}text"))
        for c in groups_with(root, "cluster")
    ]
    assert status == 0
    assert "strategy sklansky" in headings[0]
    assert "strategy serial" in headings[1]
    assert "all prefix states" in headings[0]


def test_to_dot_is_valid_source():
    source = to_dot(compiled("elman", 3), level="gate")
    assert source.startswith("digraph")
    assert "newrank=true" in source


def test_repr_svg_and_install():
    class DrawableCircuit(Circuit):
        pass

    install(DrawableCircuit)
    circuit = compiled("elman", 3)
    circuit.__class__ = DrawableCircuit
    svg = circuit._repr_svg_()
    assert svg.lstrip().startswith("<?xml")
    assert ET.fromstring(svg.encode()).tag == f"{SVG}svg"
    assert callable(DrawableCircuit.render)


def test_repr_svg_without_dot_is_none(no_dot_path):
    assert repr_svg(compiled("elman", 3)) is None
