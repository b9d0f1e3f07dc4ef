"""Shared pytest configuration: hypothesis settings profiles.

Select a profile with the environment variable ``HYPOTHESIS_PROFILE``:

``ci`` (default)
    Few examples per property, so the whole suite stays fast on a small machine.
``dev``
    More examples, for a deeper local run.
``thorough``
    Many examples; expect minutes per test file.

A test that sets ``max_examples`` in its own ``@settings`` keeps that value in
every profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}

settings.register_profile("ci", max_examples=5, **_COMMON)
settings.register_profile("dev", max_examples=40, **_COMMON)
settings.register_profile("thorough", max_examples=400, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
