"""Tests for sweeps: n parsing, planning, parallel runs, precision and output files."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from circuitlab.analysis.metrics import circuit_stats
from circuitlab.analysis.precision import (
    circuit_precision_bits,
    generate_inputs,
    input_source,
    max_bit_size,
    state_precision_bits,
)
from circuitlab.analysis.sweep import (
    ROW_KEYS,
    ModelRef,
    SweepTask,
    parse_n_values,
    plan_sweep,
    run_sweep,
    run_task,
    size_per_combine,
)
from circuitlab.cli import main
from circuitlab.cli.sweep import write_atomic
from circuitlab.compile import compile_model
from circuitlab.errors import CompileError, EvaluationError, FormatError, SpecError
from circuitlab.models import build_model
from circuitlab.rational import mpq
from circuitlab.spec import load_spec


def without_times(rows):
    return [{k: v for k, v in row.items() if k != "compile_seconds"} for row in rows]


# ---------------------------------------------------------------------------
# n values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1..16", [1, 2, 3, 4, 5, 6, 8, 9, 12, 16]),
        ("10..40", [10, 12, 16, 17, 24, 32, 33, 40]),
        ("1,2,3,100", [1, 2, 3, 100]),
        ("7", [7]),
        ("64, 1..4", [1, 2, 3, 4, 64]),
        ("5..5", [5]),
        ("1_000", [1000]),
    ],
)
def test_parse_n_values_accepts(text, expected):
    assert parse_n_values(text) == expected


def test_parse_n_values_range_contents():
    values = parse_n_values("1..4096")
    for k in range(13):
        assert 2**k in values
    for k in range(1, 12):
        assert 2**k + 1 in values
        assert 3 * 2 ** (k - 1) in values
    assert 7 not in values
    assert max(values) == 4096


@pytest.mark.parametrize(
    "text", ["0", "-3", "a", "5..3", "1..x", "", "1,,2", "1..2**60", "1..2000000000000"]
)
def test_parse_n_values_rejects(text):
    with pytest.raises(CompileError):
        parse_n_values(text)


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------


def test_plan_one_task_per_pair_and_n():
    tasks, skipped = plan_sweep(
        [ModelRef("diagonal"), ModelRef("pd")], ["tree", "sklansky"], [1, 2, 4]
    )
    assert len(tasks) == 12
    assert skipped == []
    assert {(t.model.name, t.strategy, t.n) for t in tasks} == {
        (m, s, n)
        for m in ("diagonal", "pd")
        for s in ("tree", "sklansky")
        for n in (1, 2, 4)
    }


def test_plan_skips_nonlinear_with_tree():
    tasks, skipped = plan_sweep(
        [ModelRef("elman"), ModelRef("diagonal")], ["tree", "chain"], [4]
    )
    assert {(t.model.name, t.strategy) for t in tasks} == {
        ("elman", "chain"),
        ("diagonal", "tree"),
        ("diagonal", "chain"),
    }
    assert len(skipped) == 1
    assert "elman with tree" in skipped[0]


def test_plan_default_strategy_by_linearity():
    tasks, _ = plan_sweep([ModelRef("elman"), ModelRef("diagonal")], [None], [4])
    assert {(t.model.name, t.strategy) for t in tasks} == {
        ("elman", "chain"),
        ("diagonal", "tree"),
    }


def test_plan_rejects_when_everything_skipped():
    with pytest.raises(CompileError, match="nothing to sweep"):
        plan_sweep([ModelRef("elman")], ["tree"], [4])


def test_plan_rejects_unknown_metric():
    with pytest.raises(CompileError, match="unknown metric 'sise'"):
        plan_sweep([ModelRef("diagonal")], ["tree"], [4], metrics=["sise"])


def test_plan_rejects_over_budget_before_running():
    with pytest.raises(CompileError, match="memory budget"):
        plan_sweep([ModelRef("pd")], ["kogge-stone"], [2, 4096], max_bytes=2**20)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def test_run_task_matches_direct_compile():
    task = SweepTask(
        ModelRef("pd"), "brent-kung", 24, ("size", "depth", "max_fanout"), "all"
    )
    row = run_task(task)
    circuit = compile_model(
        build_model(load_spec("pd")), 24, "brent-kung", outputs="all"
    )
    stats = circuit_stats(circuit, support=False)
    assert row["size"] == stats["size"]
    assert row["depth"] == stats["depth"]
    assert row["max_fanout"] == stats["max_fanout"]
    assert row["compile_seconds"] > 0
    assert (row["model"], row["strategy"], row["n"], row["outputs"]) == (
        "pd",
        "brent-kung",
        24,
        "all",
    )


def test_multiprocess_sweep_equals_in_process():
    tasks, _ = plan_sweep(
        [ModelRef("diagonal"), ModelRef("elman"), ModelRef("dplr", True, 2)],
        ["chain", "kogge-stone"],
        parse_n_values("1..33"),
        metrics=("size", "depth", "nonlinear_depth", "precision_bits"),
    )
    parallel = run_sweep(tasks, jobs=2)
    serial = run_sweep(tasks, jobs=1)
    assert without_times(parallel) == without_times(serial)
    assert [row["n"] for row in parallel] == [task.n for task in tasks]


def test_run_sweep_reports_progress():
    calls = []
    tasks, _ = plan_sweep([ModelRef("diagonal")], ["tree"], [1, 2, 3])
    run_sweep(
        tasks,
        jobs=1,
        progress=lambda phase, done, total: calls.append((phase, done, total)),
    )
    assert calls[0] == ("sweep", 0, 3)
    assert calls[-1] == ("sweep", 3, 3)


def test_run_sweep_error_names_the_point():
    task = SweepTask(ModelRef("pd"), "kogge-stone", 4096, ("size",), max_bytes=2**16)
    with pytest.raises(CompileError, match="pd kogge-stone n=4096"):
        run_sweep([task], jobs=1)


@pytest.mark.parametrize(("dim", "expected"), [(1, 3.0), (2, 6.0), (3, 9.0)])
def test_size_per_combine_free_diagonal(dim, expected):
    row = run_task(
        SweepTask(
            ModelRef("diagonal", True, dim),
            "sklansky",
            16,
            ("size_per_combine",),
            "all",
        )
    )
    assert row["size_per_combine"] == expected


def test_size_per_combine_undefined_without_combines():
    model = build_model(load_spec("elman"))
    assert size_per_combine(compile_model(model, 8, "chain")) is None
    row = run_task(SweepTask(ModelRef("diagonal"), "tree", 1, ("size_per_combine",)))
    assert row["size_per_combine"] is None


# ---------------------------------------------------------------------------
# Precision
# ---------------------------------------------------------------------------


class CountingModel:
    """A model with its own input generator: the state is the token count."""

    name = "counting"
    state_dim = 1

    def __init__(self):
        self.calls = []

    def generate_input(self, n, rng):
        self.calls.append(n)
        return ["a"] * n

    def reference_states(self, tokens):
        return np.array([[mpq(t + 1)] for t in range(len(tokens))], dtype=object)


def test_precision_uses_generate_input():
    model = CountingModel()
    assert input_source(model) == "generate_input"
    assert state_precision_bits(model, 255) == 8 + 1  # 255 = 0b11111111 over 1
    assert model.calls == [255]


def test_precision_random_tokens_deterministic():
    model = build_model(load_spec("diagonal"))
    assert input_source(model) == "random tokens"
    first = state_precision_bits(model, 40, seed=3)
    assert first == state_precision_bits(model, 40, seed=3)
    assert first == max_bit_size(
        model.reference_states(
            generate_inputs(model, 40, np.random.default_rng((3, 40, 0)))
        )
    )


def test_precision_max_over_samples_is_monotone():
    model = build_model(load_spec("diagonal"))
    one = state_precision_bits(model, 30, seed=1, samples=1)
    many = state_precision_bits(model, 30, seed=1, samples=4)
    assert many >= one


def test_precision_free_model_uses_random_inputs():
    ref = ModelRef("dense", True, 2)
    model = ref.resolve()
    assert input_source(model) == "random_inputs"
    bits = state_precision_bits(model, 12, seed=0)
    assert bits >= 2


def test_gate_precision_bounds_state_precision():
    model = build_model(load_spec("diagonal"))
    circuit = compile_model(model, 16, "tree", outputs="final")
    gates = circuit_precision_bits(circuit, model, 16, seed=5)
    assert gates >= max_bit_size(
        model.reference_states(
            generate_inputs(model, 16, np.random.default_rng((5, 16, 0)))
        )[-1]
    )


def test_max_bit_size_values():
    assert max_bit_size([mpq(1, 2), mpq(-7), 0]) == 4  # -7/1: 3 + 1 bits
    assert max_bit_size([mpq(255, 256)]) == 8 + 9
    with pytest.raises(EvaluationError, match="float"):
        max_bit_size([0.5])


def test_sweep_precision_column():
    row = run_task(SweepTask(ModelRef("diagonal"), "tree", 64, ("precision_bits",)))
    assert row["compile_seconds"] is None  # no circuit needed
    assert row["precision_bits"] > 64


# ---------------------------------------------------------------------------
# CLI and files
# ---------------------------------------------------------------------------


def test_cli_writes_csv_json_png(tmp_path, capsys):
    csv_path = tmp_path / "s.csv"
    json_path = tmp_path / "s.json"
    png_path = tmp_path / "s.png"
    command = (
        "sweep -m diagonal -m elman -s tree -s chain --n 1..16 --precision --jobs 1"
    )
    files = ["--csv", str(csv_path), "--json", str(json_path), "--plot", str(png_path)]
    status = main(command.split() + ["--metric", "depth", "--metric", "size"] + files)
    assert status == 0
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 10  # diagonal tree, diagonal chain, elman chain
    assert tuple(rows[0])[:6] == ROW_KEYS
    assert {"depth", "size", "precision_bits", "compile_seconds"} <= set(rows[0])
    document = json.loads(json_path.read_text())
    assert len(document["rows"]) == 30
    assert any("elman with tree" in line for line in document["skipped"])
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "elman with tree" in capsys.readouterr().err


def test_cli_plot_svg_and_json_stdout(tmp_path, capsys):
    svg_path = tmp_path / "plot.svg"
    command = "sweep -m pd -s brent-kung --n 1..8 --jobs 1 --json --plot"
    status = main(command.split() + [str(svg_path)])
    assert status == 0
    assert "<svg" in svg_path.read_text()
    document = json.loads(capsys.readouterr().out)
    assert [row["n"] for row in document["rows"]] == [1, 2, 3, 4, 5, 6, 8]


def test_cli_bad_plot_suffix_leaves_no_file(tmp_path, capsys):
    target = tmp_path / "plot.jpg"
    status = main("sweep -m diagonal --n 1..4 --jobs 1 --plot".split() + [str(target)])
    assert status == 2
    assert not target.exists()
    assert "use .png or .svg" in capsys.readouterr().err


def test_cli_missing_directory_is_an_error(tmp_path, capsys):
    target = tmp_path / "missing" / "s.csv"
    status = main("sweep -m diagonal --n 4 --jobs 1 --csv".split() + [str(target)])
    assert status == 2
    assert "not found" in capsys.readouterr().err


def test_write_atomic_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old contents\n")

    def fail_halfway(handle):
        handle.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail_halfway)
    assert target.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_write_atomic_replaces_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    write_atomic(target, lambda handle: handle.write("new\n"))
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_write_atomic_uses_umask_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "t.txt", lambda handle: handle.write("x"))
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "t.txt").st_mode & 0o777 == 0o644


def test_write_atomic_missing_directory(tmp_path):
    with pytest.raises(FormatError, match="not found"):
        write_atomic(tmp_path / "no" / "file.txt", lambda handle: handle.write("x"))


def test_model_ref_imports_factory_with_params():
    params = (("family", "diagonal"), ("state_dim", 2))
    model = ModelRef("circuitlab.models:free_model", params=params).resolve()
    assert model.name == "diagonal-free-d2"
    row = run_task(
        SweepTask(ModelRef("circuitlab.models:free_model", params=params), "tree", 4)
    )
    assert row["size"] == 6 * 4 - 2


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("no_such_module_xyz:thing", "cannot import module"),
        ("circuitlab.models:nothing", "no attribute"),
    ],
)
def test_model_ref_import_errors(name, fragment):
    with pytest.raises(SpecError, match=fragment):
        ModelRef(name).resolve()
