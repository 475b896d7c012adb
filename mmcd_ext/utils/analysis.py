"""Helpers shared by the analysis tools (``tools/analysis``): input shapes,
parameter counts and readable numbers."""
from typing import Sequence, Tuple

from torch import nn


def parse_shape(shape: Sequence[int]) -> Tuple[int, int]:
    """A ``--shape`` argument as ``(H, W)``.

    Args:
        shape (Sequence[int]): One value (square) or two values (H, W).

    Returns:
        tuple[int, int]: Height and width.

    Raises:
        ValueError: If there are not 1 or 2 positive values.
    """
    if len(shape) == 1:
        shape = (shape[0], shape[0])
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f'--shape takes H or H W (positive integers), got '
                         f'{list(shape)}')
    return int(shape[0]), int(shape[1])


def count_parameters(module: nn.Module) -> Tuple[int, int]:
    """Total and trainable parameter counts of a module.

    Args:
        module (nn.Module): The module.

    Returns:
        tuple[int, int]: ``(total, trainable)``; shared tensors count once.
    """
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable


def human(n: float) -> str:
    """Short human-readable number: ``1234567 -> '1.235M'``.

    Args:
        n (float): The number.

    Returns:
        str: The number with a K/M/G/T suffix.
    """
    for div, suffix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(n) >= div:
            return f'{n / div:.3f}{suffix}'
    return f'{n:g}'
