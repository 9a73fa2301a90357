"""The one version clash the package's lower bounds cannot express: torch wheels before 2.4 were built
against NumPy 1.x, so with NumPy 2 their ``Tensor.numpy()`` and ``torch.from_numpy`` (which the data
loading uses) fail. pip cannot express "numpy<2 if torch<2.4", so the package checks at import time.
"""

from __future__ import annotations

FIRST_TORCH_BUILT_FOR_NUMPY_2 = (2, 4)


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split("+")[0].split(".")[:2]
    return int(major), int(minor)


def check_numpy_abi(torch_version: str, numpy_version: str) -> None:
    """Raise ImportError when ``torch_version`` predates NumPy 2 support and ``numpy_version`` is 2 or later."""
    if _major_minor(torch_version) < FIRST_TORCH_BUILT_FOR_NUMPY_2 and _major_minor(numpy_version)[0] >= 2:
        raise ImportError(
            f"torch {torch_version} was built against NumPy 1.x and cannot exchange arrays with NumPy "
            f"{numpy_version}; install an older NumPy (pip install 'numpy<2') or torch 2.4 or later"
        )
