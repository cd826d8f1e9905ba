"""Argument checks shared by several optlib modules (private)."""
from __future__ import annotations

import numbers
from typing import Any


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` as a Python int, or a ValueError naming ``name`` if it is not an integer >= ``low``.

    ``True`` and ``False`` are refused: they are integers to Python, never counts.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
