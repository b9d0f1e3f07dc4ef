"""Benchmark compilation and evaluation of the circuit IR.

Each measurement runs in a fresh Python process, so its peak memory (the growth of
the resident set size, ``ru_maxrss``, over the process's size after imports) is not
mixed with earlier work. Every case runs ``--repeat`` times and the median is
reported.

Cases
-----
dense-tree-2^20
    ``compile dense --free --state-dim 4 --strategy tree`` at n = 2^20.
dense-tree-4096 and networkx-4096
    The same circuit at n = 4096, from circuitlab and from a straightforward
    builder that adds one networkx node per gate (the baseline).
eval-Q-4096 and eval-Zm-4096
    Evaluation of the n = 4096 circuit with input entries drawn from {-1, 0, 1},
    over Q (gmpy2 mpq) and over Z_m (m = 1,000,003, int64 arrays).
kogge-stone-2^16 and sklansky-2^18
    All prefixes of a free diagonal model (D = 1).

Usage: ``python benchmarks/bench_foundation.py [--repeat 3] [--json FILE] [CASE ...]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "dense-tree-2^20": ("compile", "dense", 4, 2**20, "tree", "final"),
    "dense-tree-4096": ("compile", "dense", 4, 4096, "tree", "final"),
    "networkx-4096": ("networkx", "dense", 4, 4096, "tree", "final"),
    "eval-Q-4096": ("eval-Q", "dense", 4, 4096, "tree", "final"),
    "eval-Zm-4096": ("eval-Zm", "dense", 4, 4096, "tree", "final"),
    "kogge-stone-2^16": ("compile", "diagonal", 1, 2**16, "kogge-stone", "all"),
    "sklansky-2^18": ("compile", "diagonal", 1, 2**18, "sklansky", "all"),
}


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _networkx_dense_tree(n: int, dim: int):
    """Build the dense tree circuit gate by gate as a networkx DiGraph (the baseline).

    The gate structure is the one circuitlab emits for free dense maps: each combine
    forms ``A1 A2`` and ``b1 A2 + b2`` with products summed by balanced pairwise
    additions, and the final map is applied to the input state h0.
    """
    import networkx as nx

    graph = nx.DiGraph()
    counter = [0]

    def node(op, *operands):
        index = counter[0]
        counter[0] += 1
        depth = 1 + max((graph.nodes[k]["depth"] for k in operands), default=-1)
        graph.add_node(index, op=op, depth=depth)
        for k in operands:
            graph.add_edge(k, index)
        return index

    def pairwise_sum(terms):
        while len(terms) > 1:
            paired = [
                node("add", terms[k], terms[k + 1]) for k in range(0, len(terms) - 1, 2)
            ]
            if len(terms) % 2:
                paired.append(terms[-1])
            terms = paired
        return terms[0]

    def combine(first, second):
        a1, b1 = first
        a2, b2 = second
        a = [
            [
                pairwise_sum([node("mul", a1[i][k], a2[k][j]) for k in range(dim)])
                for j in range(dim)
            ]
            for i in range(dim)
        ]
        b = [
            node(
                "add",
                pairwise_sum([node("mul", b1[k], a2[k][j]) for k in range(dim)]),
                b2[j],
            )
            for j in range(dim)
        ]
        return a, b

    h0 = [node("input") for _ in range(dim)]
    maps = []
    for _ in range(n):
        a = [[node("input") for _ in range(dim)] for _ in range(dim)]
        b = [node("input") for _ in range(dim)]
        maps.append((a, b))
    while len(maps) > 1:
        paired = [combine(maps[k], maps[k + 1]) for k in range(0, len(maps) - 1, 2)]
        if len(maps) % 2:
            paired.append(maps[-1])
        maps = paired
    a, b = maps[0]
    for j in range(dim):
        node(
            "add", pairwise_sum([node("mul", h0[k], a[k][j]) for k in range(dim)]), b[j]
        )
    gates = sum(1 for _, data in graph.nodes(data=True) if data["op"] != "input")
    return graph, gates


def run_one(case: str) -> dict:
    """Run one case in this process and return its measurements."""
    kind, family, dim, n, strategy, outputs = CASES[case]
    import numpy as np

    from circuitlab.compile import compile_model
    from circuitlab.evaluate import evaluate
    from circuitlab.models import free_model

    model = free_model(family, dim)
    if kind == "networkx":
        import networkx  # noqa: F401  (imported before the baseline is measured)

        base = _rss_bytes()
        start = time.perf_counter()
        graph, gates = _networkx_dense_tree(n, dim)
        seconds = time.perf_counter() - start
        peak = _rss_bytes() - base
        return {"case": case, "seconds": seconds, "gates": gates, "peak_bytes": peak}

    if kind == "compile":
        base = _rss_bytes()
        start = time.perf_counter()
        circuit = compile_model(model, n, strategy, outputs=outputs, max_bytes=None)
        seconds = time.perf_counter() - start
        peak = _rss_bytes() - base
        return {
            "case": case,
            "seconds": seconds,
            "gates": circuit.num_gates,
            "nodes": circuit.num_nodes,
            "peak_bytes": peak,
            "ir_bytes": circuit.nbytes(),
        }

    circuit = compile_model(model, n, strategy, outputs=outputs)
    inputs = model.random_inputs(n, np.random.default_rng(0), values=(-1, 0, 1))
    if kind == "eval-Q":
        options = {"domain": "Q"}
    else:
        options = {"domain": "Zm", "modulus": 1_000_003}
    start = time.perf_counter()
    evaluate(circuit, inputs, **options)
    seconds = time.perf_counter() - start
    return {"case": case, "seconds": seconds, "gates": circuit.num_gates}


def measure(case: str, repeat: int) -> dict:
    """Run ``case`` ``repeat`` times in fresh processes and return medians."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, __file__, "--one", case],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout))
    result = {"case": case, "runs": len(runs), "gates": runs[0]["gates"]}
    for key in ("seconds", "peak_bytes", "ir_bytes"):
        if key in runs[0]:
            result[key] = statistics.median(run[key] for run in runs)
    result["gates_per_second"] = result["gates"] / result["seconds"]
    if "peak_bytes" in result:
        result["peak_bytes_per_gate"] = result["peak_bytes"] / result["gates"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="*", default=list(CASES), help="cases to run (default: all)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case (median reported)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        print(json.dumps(run_one(arguments.one)))
        return
    unknown = [case for case in arguments.cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")

    results = [measure(case, arguments.repeat) for case in arguments.cases]
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}"
    )
    print("| case | gates | seconds | gates/s | peak bytes/gate |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        per_gate = (
            f"{r['peak_bytes_per_gate']:.1f}" if "peak_bytes_per_gate" in r else ""
        )
        print(
            f"| {r['case']} | {r['gates']:,} | {r['seconds']:.3f} | {r['gates_per_second']:,.0f} | {per_gate} |"
        )
    by_case = {r["case"]: r for r in results}
    if "dense-tree-4096" in by_case and "networkx-4096" in by_case:
        ours, theirs = by_case["dense-tree-4096"], by_case["networkx-4096"]
        print(
            f"networkx / circuitlab at n = 4096: {theirs['seconds'] / ours['seconds']:.0f}x time, "
            f"{theirs['peak_bytes'] / max(ours['peak_bytes'], 1):.0f}x peak memory"
        )
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
