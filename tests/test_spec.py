"""Tests for loading and validating model specs (TOML files)."""

from __future__ import annotations

import itertools
import re
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest

from circuitlab.compile import compile_model
from circuitlab.errors import SpecError
from circuitlab.evaluate import evaluate
from circuitlab.models import build_model
from circuitlab.spec import FAMILIES, Spec, load_spec, parse_spec, shipped_specs

BASE_NAMES = {
    "elman",
    "mlp-rnn",
    "diagonal",
    "pd",
    "dplr",
    "deltanet",
    "gated-deltanet",
    "rwkv7",
    "dense",
}

DIAGONAL = """\
name = "tiny"
description = "a two-token counter"
family = "diagonal"
state_dim = 2
alphabet = ["a", "b"]

[transitions.a]
diag = [1, "1/2"]
bias = [1, 0]

[transitions.b]
diag = [1, 1]

[readout]
weights = [1, 0]
bias = "-1/2"
"""


def write_spec(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def spec_error(path: Path) -> str:
    with pytest.raises(SpecError) as error:
        load_spec(path)
    return str(error.value)


# ---------------------------------------------------------------------------
# Shipped specs
# ---------------------------------------------------------------------------


def test_shipped_specs_include_every_base_family():
    assert BASE_NAMES <= set(shipped_specs())
    families = {load_spec(name).family for name in shipped_specs()}
    assert set(FAMILIES) - {"multilayer"} <= families


@pytest.mark.parametrize("name", sorted(shipped_specs()))
def test_shipped_spec_loads(name):
    spec = load_spec(name)
    assert isinstance(spec, Spec)
    assert spec.name == name
    assert spec.description.strip()
    assert spec.family in FAMILIES
    assert spec.source == str(shipped_specs()[name])
    assert spec.initial_state.shape == (spec.state_dim,)
    assert spec.readout_weights.shape == (spec.state_dim,)
    assert len(spec.alphabet) == len(set(spec.alphabet)) >= 1
    model = build_model(spec)
    assert model.name == name
    assert model.state_dim == spec.state_dim


@pytest.mark.parametrize("name", ["pd", "dense"])
def test_load_by_path_equals_by_name(name):
    path = shipped_specs()[name]
    for reference in (path, str(path)):
        spec = load_spec(reference)
        assert spec.name == name
        assert spec.family == load_spec(name).family


def test_values_are_exact_rationals(tmp_path):
    spec = load_spec(write_spec(tmp_path, DIAGONAL, "tiny.toml"))
    diag = spec.params["tokens"]["a"]["diag"]
    assert [Fraction(int(v.numerator), int(v.denominator)) for v in diag] == [
        1,
        Fraction(1, 2),
    ]
    assert spec.readout_bias == Fraction(-1, 2)
    # Defaults: a missing bias is 0, a missing initial state is the zero vector.
    assert list(spec.params["tokens"]["b"]["bias"]) == [0, 0]
    assert list(spec.initial_state) == [0, 0]


def test_name_defaults_to_file_stem(tmp_path):
    text = DIAGONAL.replace('name = "tiny"\n', "")
    assert load_spec(write_spec(tmp_path, text, "counter.toml")).name == "counter"


def test_pd_diag_defaults_to_one():
    spec = load_spec("pd")
    assert list(spec.params["tokens"]["a"]["diag"]) == [1] * spec.state_dim


# ---------------------------------------------------------------------------
# Invalid specs: one problem each
# ---------------------------------------------------------------------------

# (case id, TOML text, fragments the message must contain)
PROBLEM_CASES = [
    (
        "missing-state-dim",
        DIAGONAL.replace("state_dim = 2\n", ""),
        ["state_dim: missing"],
    ),
    (
        "missing-family",
        DIAGONAL.replace('family = "diagonal"\n', ""),
        ["family: missing"],
    ),
    (
        "missing-diag",
        DIAGONAL.replace("diag = [1, 1]\n", ""),
        ["transitions.b.diag: missing", "(2,)"],
    ),
    (
        "missing-readout",
        DIAGONAL.split("[readout]")[0],
        ["readout: missing"],
    ),
    (
        "missing-readout-weights",
        DIAGONAL.replace("weights = [1, 0]\n", ""),
        ["readout.weights: missing"],
    ),
    (
        "wrong-shape",
        DIAGONAL.replace('diag = [1, "1/2"]', "diag = [1, 1, 1]"),
        ["transitions.a.diag: expected shape (2,), found (3,)"],
    ),
    (
        "wrong-shape-initial-state",
        DIAGONAL.replace("alphabet", "initial_state = [[1, 0]]\nalphabet"),
        ["initial_state: expected shape (2,), found (1, 2)"],
    ),
    (
        "zero-denominator",
        DIAGONAL.replace('diag = [1, "1/2"]', 'diag = [1, "1/0"]'),
        ["transitions.a.diag", "[1]='1/0'"],
    ),
    (
        "not-a-number",
        DIAGONAL.replace("bias = [1, 0]", 'bias = ["abc", 0]'),
        ["transitions.a.bias", "[0]='abc'"],
    ),
    (
        "float-array-entry",
        DIAGONAL.replace('diag = [1, "1/2"]', "diag = [1, 0.5]"),
        ["transitions.a.diag", "[1]=0.5"],
    ),
    (
        "float-scalar",
        DIAGONAL.replace('bias = "-1/2"', "bias = -0.5"),
        ["readout.bias", "-0.5", "'1/2'"],
    ),
    (
        "unknown-family",
        DIAGONAL.replace('family = "diagonal"', 'family = "lstm"'),
        ["family: unknown family 'lstm'", "diagonal", "elman"],
    ),
    (
        "unknown-key",
        DIAGONAL.replace("alphabet", 'colour = "red"\nalphabet'),
        ["colour: unknown key", "transitions"],
    ),
    (
        "token-missing-from-transitions",
        DIAGONAL.replace('alphabet = ["a", "b"]', 'alphabet = ["a", "b", "c"]'),
        ["transitions.c: missing"],
    ),
    (
        "transition-not-in-alphabet",
        DIAGONAL.replace('alphabet = ["a", "b"]', 'alphabet = ["a"]'),
        ["transitions.b: token is not in the alphabet"],
    ),
    (
        "transitions-missing",
        DIAGONAL.split("[transitions.a]")[0] + "[readout]\nweights = [1, 0]\n",
        ["transitions: missing"],
    ),
    (
        "empty-alphabet",
        DIAGONAL.replace('alphabet = ["a", "b"]', "alphabet = []"),
        ["alphabet: expected a non-empty list"],
    ),
    (
        "duplicate-tokens",
        DIAGONAL.replace('alphabet = ["a", "b"]', 'alphabet = ["a", "b", "a"]'),
        ["alphabet: tokens must be distinct"],
    ),
    (
        "state-dim-zero",
        DIAGONAL.replace("state_dim = 2", "state_dim = 0"),
        ["state_dim: expected an integer >= 1, got 0"],
    ),
    (
        "state-dim-string",
        DIAGONAL.replace("state_dim = 2", 'state_dim = "2"'),
        ["state_dim: expected an integer >= 1, got '2'"],
    ),
]

PD = """\
family = "pd"
state_dim = 3
alphabet = ["x"]

[transitions.x]
perm = PERM

[readout]
weights = [1, 0, 0]
"""


@pytest.mark.parametrize(
    "perm, shown",
    [
        ("[0, 0, 1]", "[0, 0, 1]"),
        ("[0, 1]", "[0, 1]"),
        ("[1, 2, 3]", "[1, 2, 3]"),
        ("[0, 1, 2.0]", "2.0"),
        ('"012"', "'012'"),
        ("[true, false, 2]", "True"),
    ],
)
def test_perm_not_a_permutation(tmp_path, perm, shown):
    message = spec_error(write_spec(tmp_path, PD.replace("PERM", perm)))
    assert "transitions.x.perm" in message
    assert "permutation of 0..2" in message
    assert shown in message


@pytest.mark.parametrize(
    "text, fragments",
    [case[1:] for case in PROBLEM_CASES],
    ids=[c[0] for c in PROBLEM_CASES],
)
def test_invalid_spec_reports_problem(tmp_path, text, fragments):
    path = write_spec(tmp_path, text)
    message = spec_error(path)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_three_problems_in_one_message(tmp_path):
    text = (
        DIAGONAL.replace('diag = [1, "1/2"]', 'diag = [1, "abc"]')
        .replace('alphabet = ["a", "b"]', 'alphabet = ["a", "b", "c"]')
        .replace("alphabet", "colour = 1\nalphabet")
    )
    path = write_spec(tmp_path, text)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: 3 problems: ")
    assert "transitions.a.diag: not an integer or 'p/q' string at [1]='abc'" in message
    assert "transitions.c: missing" in message
    assert "colour: unknown key" in message


@pytest.mark.parametrize(
    "family, body, fragments",
    [
        (
            "elman",
            'W = [[1, 0]]\nU = [[1, 0], [0, 1]]\nactivation = "gelu"',
            [
                "W: expected shape (2, 2), found (1, 2)",
                "activation: unknown activation 'gelu'",
            ],
        ),
        (
            "elman",
            "W = [[1, 0], [0, 1]]\nU = [[1], [0]]\n[embedding]\na = [1]",
            ["embedding.b: missing"],
        ),
        ("mlp", "", ["layers: missing"]),
        (
            "dplr",
            "rank = 0\n[transitions.a]\ndiag = [1, 1]\nu = [[1], [0]]\nv = [[1], [0]]",
            ["rank: expected an integer >= 1, got 0", "transitions.b: missing"],
        ),
        (
            "deltanet",
            "[transitions.a]\nbeta = 0.5\nk = [1, 0]\n[transitions.b]\nk = [1]",
            [
                "transitions.a.beta",
                "0.5",
                "transitions.b.beta: missing",
                "transitions.b.k: expected shape (2,), found (1,)",
            ],
        ),
        (
            "rwkv7",
            "[transitions.a]\nw = [1, 1]\nkappa = [1, 0]\n[transitions.b]\n"
            "w = [1, 1]\nkappa = [0, 0]\na = [0, 0]",
            ["transitions.a.a: missing"],
        ),
        (
            "dense",
            "[transitions.a]\nmatrix = [[1, 0], [0]]\n"
            "[transitions.b]\nmatrix = [[1, 0], [0, 1]]",
            ["transitions.a.matrix: expected shape (2, 2)"],
        ),
        (
            "multilayer",
            'normalization = "layer"\nbos = [0, 0]\n'
            "[embedding]\na = [1, 0]\nb = [0, 1]\n"
            '[[layers]]\nkind = "attention"',
            [
                "normalization: unsupported 'layer'",
                "layers[0].kind: expected 'rnn' or 'ffn'",
            ],
        ),
    ],
    ids=[
        "elman-shape",
        "elman-embedding",
        "mlp",
        "dplr",
        "deltanet",
        "rwkv7",
        "dense",
        "multilayer",
    ],
)
def test_family_keys_validated(tmp_path, family, body, fragments):
    head = (
        f'family = "{family}"\nstate_dim = 2\nalphabet = ["a", "b"]\n'
        "[readout]\nweights = [1, 0]\n"
    )
    text = top_level_first(head, body)
    message = spec_error(write_spec(tmp_path, text))
    for fragment in fragments:
        assert fragment in message, message


def top_level_first(head: str, body: str) -> str:
    """Join spec text so that every top-level key comes before the first table."""
    head_keys, head_tables = head.split("[readout]")
    body_lines = body.splitlines()
    first_table = next(
        (k for k, line in enumerate(body_lines) if line.startswith("[")),
        len(body_lines),
    )
    keys = "\n".join(body_lines[:first_table])
    tables = "\n".join(body_lines[first_table:])
    return f"{head_keys}{keys}\n[readout]{head_tables}{tables}\n"


def test_mlp_layer_not_a_table(tmp_path):
    text = (
        'family = "mlp"\nstate_dim = 2\nalphabet = ["a", "b"]\nlayers = [1]\n'
        "[readout]\nweights = [1, 0]\n"
    )
    assert "layers[0]" in spec_error(write_spec(tmp_path, text))


@pytest.mark.parametrize(
    "text",
    [
        DIAGONAL.replace("bias = [1, 0]", "bais = [1, 0]"),
        DIAGONAL.replace('bias = "-1/2"', 'bais = "-1/2"'),
    ],
    ids=["transition", "readout"],
)
def test_unknown_nested_key_rejected(tmp_path, text):
    assert "bais" in spec_error(write_spec(tmp_path, text))


# ---------------------------------------------------------------------------
# Finding and reading files
# ---------------------------------------------------------------------------


def test_unknown_model_lists_shipped_ones():
    with pytest.raises(SpecError) as error:
        load_spec("no-such-model")
    message = str(error.value)
    assert "'no-such-model'" in message
    for name in shipped_specs():
        assert name in message


def test_missing_spec_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(SpecError, match="absent.toml not found"):
        load_spec(path)


def test_invalid_toml(tmp_path):
    path = write_spec(tmp_path, 'family = "diagonal"\nstate_dim = = 2\n')
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert message.startswith(f"{path}: invalid TOML")
    assert "line 2" in message


def test_unreadable_spec_file(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec(path)


def test_parse_spec_from_table():
    table = {
        "family": "diagonal",
        "state_dim": 1,
        "alphabet": ["a"],
        "transitions": {"a": {"diag": ["1/3"]}},
        "readout": {"weights": [1]},
    }
    spec = parse_spec(table, source="<test>", default_name="counter")
    assert spec.name == "counter"
    assert spec.source == "<test>"
    assert spec.description == ""
    with pytest.raises(SpecError, match="^<test>: 1 problem: state_dim"):
        parse_spec({**table, "state_dim": -1}, source="<test>")


# ---------------------------------------------------------------------------
# Examples in docs/specs.md
# ---------------------------------------------------------------------------

SPECS_DOC = Path(__file__).resolve().parent.parent / "docs" / "specs.md"


def doc_blocks(language: str) -> list[str]:
    return re.findall(
        rf"```{language}\n(.*?)```", SPECS_DOC.read_text(encoding="utf-8"), re.S
    )


def test_doc_covers_every_family():
    families = {tomllib.loads(block)["family"] for block in doc_blocks("toml")}
    assert families == set(FAMILIES)


@pytest.mark.parametrize(
    "block", doc_blocks("toml"), ids=lambda b: tomllib.loads(b)["name"]
)
def test_doc_example_is_valid_spec(block):
    spec = parse_spec(tomllib.loads(block), source="docs/specs.md")
    assert spec.description
    model = build_model(spec)
    strategy = "brent-kung" if spec.family not in ("elman", "mlp") else "chain"
    for n in (1, 2, 3):
        c = compile_model(model, n, strategy)
        for tokens in itertools.product(spec.alphabet, repeat=n):
            result = evaluate(c, model.encode(list(tokens)))
            reference = model.reference_states(list(tokens))
            assert (result["state"] == reference[-1:]).all(), tokens
            accepted = model.reference_readout(reference[-1])[1]
            assert result["accept"].tolist() == [int(accepted)], tokens


def test_doc_validation_message_is_current(tmp_path):
    (shown,) = [block for block in doc_blocks("") if block.startswith("bad.toml")]
    text = (
        DIAGONAL.replace('diag = [1, "1/2"]', 'diag = [1, "abc"]')
        .replace('alphabet = ["a", "b"]', 'alphabet = ["a", "b", "c"]')
        .replace("alphabet", "colour = 1\nalphabet")
    )
    with pytest.raises(SpecError) as error:
        parse_spec(tomllib.loads(text), source="bad.toml")
    assert str(error.value) == shown.strip()
