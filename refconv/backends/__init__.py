"""Backends: the convolutions refconv judges, each a small adapter from a ConvSpec to a framework's call.

The types are in ``refconv.backends.base`` (:class:`~refconv.backends.Backend`,
:class:`~refconv.backends.Program`, :class:`~refconv.backends.Unsupported`), the names in
``refconv.backends.registry`` (:data:`~refconv.backends.BUILTIN`, :func:`~refconv.backends.get`,
:func:`~refconv.backends.function_backend`), one adapter a module beside them.
"""

from refconv.backends.base import Backend, Program, Unsupported, require
from refconv.backends.registry import BUILTIN, FAMILY_ORACLES, ORACLES, available, function_backend, get

__all__ = [
    "BUILTIN",
    "FAMILY_ORACLES",
    "ORACLES",
    "Backend",
    "Program",
    "Unsupported",
    "available",
    "function_backend",
    "get",
    "require",
]
