"""Fast exact runs of ``mlp`` specs: one stream at a time, or many integer ones at once.

Both runners compute exactly what :meth:`circuitlab.models.nonlinear.MlpModel.
reference_states` computes (the tests compare them state by state), only faster:

- :class:`SparseMlp` evaluates one stream over exact rationals and skips zero
  weights. The stack RNN has about 90 % zero weights, so this is several times
  faster than the reference loop.
- :class:`IntegerBatchMlp` evaluates many streams at once with numpy. It accepts
  only specs whose weights, biases, embeddings and initial state are integers, so
  every value it computes is an integer. It stores them in float64, which is
  exact for integers below ``2^53``, and raises before any value could reach that
  bound.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from circuitlab.errors import EvaluationError
from circuitlab.rational import bit_size, mpq

logger = logging.getLogger(__name__)

__all__ = ["SparseMlp", "SparseRun", "IntegerBatchMlp", "BatchRun"]

_EXACT_LIMIT = 2.0**52


def _check_mlp(spec) -> None:
    if spec.family != "mlp":
        raise EvaluationError(
            f"model {spec.name} has family {spec.family}; these runners need an mlp spec"
        )
    for k, layer in enumerate(spec.params["layers"]):
        if layer["activation"] not in ("relu", "identity"):
            raise EvaluationError(
                f"model {spec.name} layer {k} uses {layer['activation']}; "
                f"only relu and identity layers are supported"
            )


@dataclass(frozen=True)
class SparseRun:
    """Result of :meth:`SparseMlp.run`.

    Attributes
    ----------
    final : tuple
        The state after the last token (exact rationals).
    readout : object
        ``<final, weights> + bias``.
    accepted : bool
        Whether the readout is > 0.
    max_bits : int
        Largest :func:`~circuitlab.rational.bit_size` over the initial state and
        every state after a token.
    states : tuple or None
        Every state after a token, when requested.
    """

    final: tuple
    readout: object
    accepted: bool
    max_bits: int
    states: tuple | None


class SparseMlp:
    """Exact evaluator of an ``mlp`` spec that skips zero weights.

    Parameters
    ----------
    spec : circuitlab.spec.Spec
        A validated ``mlp`` spec with relu and identity layers.
    """

    def __init__(self, spec) -> None:
        _check_mlp(spec)
        self.spec = spec
        self.state_dim = spec.state_dim
        self.layers = []
        for layer in spec.params["layers"]:
            rows = []
            for row, bias in zip(layer["weight"], layer["bias"], strict=True):
                nonzero = [(j, mpq(w)) for j, w in enumerate(row) if w != 0]
                rows.append((tuple(nonzero), mpq(bias)))
            self.layers.append((tuple(rows), layer["activation"] == "relu"))
        self.embedding = {
            token: tuple(mpq(v) for v in vector)
            for token, vector in spec.params["embedding"].items()
        }
        self.initial = tuple(mpq(v) for v in spec.initial_state)
        self.readout_weights = [
            (j, mpq(w)) for j, w in enumerate(spec.readout_weights) if w != 0
        ]
        self.readout_bias = mpq(spec.readout_bias)

    def step(self, h: Sequence, token: str) -> tuple:
        """Return the state after reading ``token`` in state ``h``."""
        try:
            value = tuple(h) + self.embedding[token]
        except KeyError:
            raise EvaluationError(
                f"token {token!r} is not in the alphabet of {self.spec.name} "
                f"({' '.join(self.spec.alphabet)})"
            ) from None
        zero = mpq(0)
        for rows, relu in self.layers:
            out = []
            for nonzero, bias in rows:
                total = bias
                for j, w in nonzero:
                    x = value[j]
                    if x:
                        total += w * x
                out.append(total if not relu or total > 0 else zero)
            value = tuple(out)
        return value

    def readout(self, h: Sequence) -> tuple[object, bool]:
        """Return ``(y, accepted)`` for a state."""
        y = self.readout_bias
        for j, w in self.readout_weights:
            y += w * h[j]
        return y, bool(y > 0)

    def run(
        self,
        tokens: Sequence[str],
        *,
        record: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> SparseRun:
        """Run the spec on ``tokens`` and return the final state and statistics.

        Parameters
        ----------
        tokens : Sequence[str]
            The input, one token per step.
        record : bool
            Keep every state in :attr:`SparseRun.states`.
        progress : callable, optional
            Called with the number of tokens done, every 4096 tokens.
        """
        h = self.initial
        max_bits = max(bit_size(v) for v in h)
        states = [] if record else None
        for count, token in enumerate(tokens, start=1):
            h = self.step(h, token)
            max_bits = max(max_bits, max(bit_size(v) for v in h))
            if record:
                states.append(h)
            if progress is not None and count % 4096 == 0:
                progress(count)
        y, accepted = self.readout(h)
        return SparseRun(
            final=h,
            readout=y,
            accepted=accepted,
            max_bits=max_bits,
            states=tuple(states) if record else None,
        )


@dataclass(frozen=True)
class BatchRun:
    """Result of :meth:`IntegerBatchMlp.run`, one row per stream in input order.

    Attributes
    ----------
    final : numpy.ndarray
        ``(B, D)`` int64 final states.
    readout : numpy.ndarray
        ``(B,)`` readouts as float64 (exact: integer plus the readout bias).
    accepted : numpy.ndarray
        ``(B,)`` bool, readout > 0.
    max_abs : numpy.ndarray
        ``(B,)`` int64, largest absolute state value over the run.
    """

    final: np.ndarray
    readout: np.ndarray
    accepted: np.ndarray
    max_abs: np.ndarray

    @property
    def max_bits(self) -> np.ndarray:
        """Per stream, the largest bit size of a state value (integers: bits + 1)."""
        return np.array([int(v).bit_length() + 1 for v in self.max_abs], dtype=np.int64)


def _integer_array(values, what: str, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    out = np.empty(array.shape, dtype=np.float64)
    for index, value in np.ndenumerate(array):
        if value.denominator != 1:
            raise EvaluationError(
                f"model {name}: {what} has the non-integer entry {value}; "
                f"IntegerBatchMlp needs integer weights (use SparseMlp)"
            )
        out[index] = float(int(value.numerator))
    return out


class IntegerBatchMlp:
    """Vectorized exact evaluator of an integer ``mlp`` spec over many streams.

    Parameters
    ----------
    spec : circuitlab.spec.Spec
        An ``mlp`` spec whose weights, biases, embedding vectors and initial state
        are integers. The readout bias may be any rational.

    Raises
    ------
    EvaluationError
        If the spec is not such a spec.
    """

    def __init__(self, spec) -> None:
        _check_mlp(spec)
        self.spec = spec
        dim = spec.state_dim
        self.token_index = {token: k for k, token in enumerate(spec.alphabet)}
        # Streams of one-character ASCII tokens are translated with a byte table.
        self._byte_table = None
        if all(len(t) == 1 and t.isascii() for t in spec.alphabet):
            self._byte_table = np.full(256, -1, dtype=np.int64)
            for token, k in self.token_index.items():
                self._byte_table[ord(token)] = k

        layers = spec.params["layers"]
        embedding = np.stack(
            [
                _integer_array(spec.params["embedding"][t], "an embedding", spec.name)
                for t in spec.alphabet
            ]
        )
        first = _integer_array(layers[0]["weight"], "layer 0 weight", spec.name)
        first_bias = _integer_array(layers[0]["bias"], "layer 0 bias", spec.name)
        self.first_state = np.ascontiguousarray(first[:, :dim].T)
        # Per token, the input columns and the bias of the first layer in one row.
        self.token_bias = embedding @ first[:, dim:].T + first_bias
        self.first_relu = layers[0]["activation"] == "relu"

        self.rest = []
        for k, layer in enumerate(layers[1:], start=1):
            weight = _integer_array(layer["weight"], f"layer {k} weight", spec.name)
            bias = _integer_array(layer["bias"], f"layer {k} bias", spec.name)
            self.rest.append(
                (np.ascontiguousarray(weight.T), bias, layer["activation"])
            )

        self.initial = _integer_array(
            spec.initial_state, "the initial state", spec.name
        )
        self.readout_weights = _integer_array(
            spec.readout_weights, "the readout weights", spec.name
        )
        self.readout_bias = float(spec.readout_bias)

        # Every intermediate value is at most `gain * max(|h|, |x|, 1)`, so keeping
        # max |h| below _EXACT_LIMIT / gain keeps every float64 value exact.
        gain = (
            np.abs(self.first_state).sum(axis=0).max() + np.abs(self.token_bias).max()
        )
        for weight, bias, _ in self.rest:
            gain = gain * np.abs(weight).sum(axis=0).max() + np.abs(bias).max()
        self.state_limit = _EXACT_LIMIT / max(float(gain), 1.0)

    def encode(self, stream: Sequence[str], position: int = 0) -> np.ndarray:
        """Return the token indices of a stream; ``position`` names it in errors."""
        if (
            isinstance(stream, str)
            and self._byte_table is not None
            and stream.isascii()
        ):
            indices = self._byte_table[np.frombuffer(stream.encode("ascii"), np.uint8)]
            bad = np.flatnonzero(indices < 0)
            if bad.size == 0:
                return indices
            stream = stream[: bad[0] + 1]
        try:
            return np.fromiter(
                (self.token_index[t] for t in stream), dtype=np.int64, count=len(stream)
            )
        except KeyError as error:
            raise EvaluationError(
                f"stream {position}: token {error.args[0]!r} is not in the alphabet "
                f"of {self.spec.name} ({' '.join(self.spec.alphabet)})"
            ) from None

    def run(
        self,
        streams: Sequence[Sequence[str]],
        *,
        chunk_size: int = 1024,
        progress: Callable[[int, int], None] | None = None,
    ) -> BatchRun:
        """Run every stream from the initial state and return the final states.

        Streams are sorted by length and run in chunks of ``chunk_size``, so the
        arrays of one chunk stay in cache and short streams stop early.

        Parameters
        ----------
        streams : Sequence of str or token lists
            The inputs; they may have different lengths.
        chunk_size : int
            Streams per chunk.
        progress : callable, optional
            ``progress(done, total)`` in tokens, called after each chunk.

        Raises
        ------
        EvaluationError
            On a token outside the alphabet, or if a value could leave the range
            where float64 represents integers exactly.
        """
        count = len(streams)
        dim = self.spec.state_dim
        lengths = np.array([len(s) for s in streams], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        final = np.empty((count, dim), dtype=np.float64)
        max_abs = np.empty(count, dtype=np.float64)
        total_tokens = int(lengths.sum())
        done = 0
        for start in range(0, count, max(1, chunk_size)):
            members = order[start : start + chunk_size]
            tokens = [self.encode(streams[i], int(i)) for i in members]
            h, peak = self._run_chunk(tokens, lengths[members])
            final[members] = h
            max_abs[members] = peak
            done += int(lengths[members].sum())
            if progress is not None:
                progress(done, total_tokens)
        readout = final @ self.readout_weights + self.readout_bias
        return BatchRun(
            final=final.astype(np.int64),
            readout=readout,
            accepted=readout > 0,
            max_abs=max_abs.astype(np.int64),
        )

    def _run_chunk(
        self, tokens: list[np.ndarray], lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run streams sorted by decreasing length; return final states and peaks."""
        count = len(tokens)
        longest = int(lengths[0]) if count else 0
        # Time-major token matrix: row t is the t-th token of every stream.
        matrix = np.zeros((longest, count), dtype=np.int64)
        for k, row in enumerate(tokens):
            matrix[: len(row), k] = row
        # active[t] = number of streams longer than t (a prefix, lengths decrease).
        active = count - np.searchsorted(lengths[::-1], np.arange(longest), "right")

        h = np.tile(self.initial, (count, 1))
        peak = np.full(count, np.abs(self.initial).max() if self.initial.size else 0.0)
        for t in range(longest):
            rows = int(active[t])
            value = h[:rows] @ self.first_state
            value += np.take(self.token_bias, matrix[t, :rows], axis=0)
            if self.first_relu:
                np.maximum(value, 0.0, out=value)
            for weight, bias, activation in self.rest:
                value = value @ weight
                value += bias
                if activation == "relu":
                    np.maximum(value, 0.0, out=value)
            h[:rows] = value
            step_peak = np.abs(value).max(axis=1)
            np.maximum(peak[:rows], step_peak, out=peak[:rows])
            if rows and step_peak.max() >= self.state_limit:
                raise EvaluationError(
                    f"model {self.spec.name}: a state value reached "
                    f"{step_peak.max():.3g} at step {t}, beyond the exact float64 "
                    f"range; use SparseMlp"
                )
        return h, peak
