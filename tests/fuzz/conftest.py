"""Hypothesis profiles for the fuzz harness (used only by tests/fuzz, never loaded globally).

``fuzz-ci`` (default): derandomized and small, so the default test run stays fast and
reproducible. ``fuzz-long``: many random cases with shrinking, for local runs::

    HYPOTHESIS_PROFILE=fuzz-long python -m pytest -q tests/fuzz
"""

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "fuzz-ci", max_examples=12, derandomize=True, database=None, deadline=None, print_blob=False,
    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "fuzz-long", max_examples=400, deadline=None, print_blob=True,
    suppress_health_check=list(HealthCheck),
)
