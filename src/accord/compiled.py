"""numba compilation shared by accord's compiled kernels (PDQ index search, id sort).

Kernels are compiled with ``cache=True`` (the machine code is kept beside their source,
or in numba's user cache directory) and ``nogil=True`` (several threads run them side by
side). numba refuses ``cache=True`` (``RuntimeError``) when neither the folder beside the
source nor its user cache directory (``NUMBA_CACHE_DIR``) is writable, e.g. a read-only
install under a user without a home: then each process compiles on first use (about a
second per kernel) instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba

__all__ = ["compile_kernel"]


def compile_kernel(function: Callable[..., Any], **options: Any) -> tuple[Any, bool]:
    """``function`` compiled by numba (nogil), and whether its machine code is cached on disk."""
    try:
        return numba.njit(cache=True, nogil=True, **options)(function), True
    except RuntimeError:
        return numba.njit(cache=False, nogil=True, **options)(function), False
