"""Exact rationals: gmpy2 ``mpq`` when it imports, :class:`fractions.Fraction` otherwise.

Spec files write rationals as integers or ``"p/q"`` strings; :func:`parse_rational`
accepts both and nothing else, so a float never enters exact arithmetic silently.
"""

from __future__ import annotations

import re
from fractions import Fraction

try:
    import gmpy2

    mpq = gmpy2.mpq
    HAVE_GMPY2 = True
except ImportError:  # pragma: no cover - exercised only where gmpy2 is missing
    gmpy2 = None
    mpq = Fraction
    HAVE_GMPY2 = False

__all__ = ["HAVE_GMPY2", "mpq", "parse_rational", "rational_str", "bit_size"]

_RATIONAL = re.compile(r"^\s*([+-]?\d+)\s*(?:/\s*(\d+)\s*)?$")


def parse_rational(value: object) -> object:
    """Convert an int, a ``"p/q"`` or ``"p"`` string, or a Fraction to an exact rational.

    Raises
    ------
    ValueError
        For floats, booleans, zero denominators and strings of another form.

    Examples
    --------
    >>> str(parse_rational("3/4"))
    '3/4'
    """
    if isinstance(value, bool):
        raise ValueError(
            f"expected an integer or a 'p/q' string, got the boolean {value}"
        )
    if isinstance(value, int):
        return mpq(value)
    if isinstance(value, Fraction):
        return mpq(value.numerator, value.denominator)
    if HAVE_GMPY2 and type(value) is type(mpq(0)):
        return value
    if isinstance(value, str):
        match = _RATIONAL.match(value)
        if match is None:
            raise ValueError(f"expected an integer or a 'p/q' string, got {value!r}")
        numerator = int(match.group(1))
        denominator = int(match.group(2)) if match.group(2) is not None else 1
        if denominator == 0:
            raise ValueError(f"zero denominator in {value!r}")
        return mpq(numerator, denominator)
    raise ValueError(
        f"expected an integer or a 'p/q' string, got {value!r} of type "
        f"{type(value).__name__} (write floats as exact fractions, e.g. '1/2')"
    )


def rational_str(value: object) -> str:
    """Format an exact rational as ``"p"`` or ``"p/q"``."""
    fraction = Fraction(int(value.numerator), int(value.denominator))
    return str(fraction)


def bit_size(value: object) -> int:
    """Return the bits of numerator plus denominator of a rational (sign excluded)."""
    return (
        int(abs(int(value.numerator))).bit_length()
        + int(value.denominator).bit_length()
    )
