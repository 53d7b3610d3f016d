"""Checking a convolution against refconv: round-off bounds, one comparison, and the search.

Every result of a convolution problem is one of :data:`~refconv.cases.ARRAYS`, ``y``, ``dx``,
``dw`` and ``db``. Each element is judged against a float64 reference within its own rigorous
bound (``refconv.testing.bounds``) by one comparison (``refconv.testing.comparison``);
:func:`refconv.testing.conv_configs` draws problems for a hypothesis test (``refconv.testing.strategies``).
``import refconv.testing`` loads it; ``import refconv`` alone does not need it.
"""

from refconv.cases import ARRAYS, Results
from refconv.testing.bounds import (
    conventions,
    gamma,
    reference_and_bound,
    reference_and_bounds,
    results,
    rounding_bound,
    terms,
    unit_roundoff,
)
from refconv.testing.comparison import Comparison, assert_conv_close, compare
from refconv.testing.strategies import FEATURES, conv_configs

__all__ = [
    "ARRAYS",
    "FEATURES",
    "Comparison",
    "Results",
    "assert_conv_close",
    "compare",
    "conv_configs",
    "conventions",
    "gamma",
    "reference_and_bound",
    "reference_and_bounds",
    "results",
    "rounding_bound",
    "terms",
    "unit_roundoff",
]
