"""Backends: the convolutions refconv judges, each a small adapter from a ConvSpec to a framework's call.

The types are in :mod:`refconv.backends.base` (:class:`Backend`, :class:`Program`,
:class:`Unsupported`), the names in :mod:`refconv.backends.registry` (:data:`BUILTIN`,
:func:`get`, :func:`function_backend`), one adapter a module beside them.
"""

from refconv.backends.base import Backend, Program, Unsupported, require
from refconv.backends.registry import BUILTIN, ORACLES, available, function_backend, get

__all__ = [
    "BUILTIN",
    "ORACLES",
    "Backend",
    "Program",
    "Unsupported",
    "available",
    "function_backend",
    "get",
    "require",
]
