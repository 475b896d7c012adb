"""Helpers shared by the bitemporal transforms."""
from typing import Tuple

import numpy as np


def split_dates(img: np.ndarray,
                name: str = 'transform') -> Tuple[np.ndarray, np.ndarray]:
    """Split a concatenated bitemporal image into its two dates.

    Args:
        img (np.ndarray): ``(H, W, 2C)``, date A channels first.
        name (str): Caller, for the error message. Defaults to 'transform'.

    Returns:
        tuple[np.ndarray, np.ndarray]: Date A and date B, ``(H, W, C)`` each
        (views into ``img``).

    Raises:
        ValueError: If ``img`` is not ``(H, W, 2C)`` with an even channel
            count.
    """
    if img.ndim != 3 or img.shape[2] % 2 != 0:
        raise ValueError(
            f'{name} expects a bitemporal image (H, W, 2C) with both dates '
            f'concatenated on the channels, got shape {img.shape}')
    half = img.shape[2] // 2
    return img[..., :half], img[..., half:]


def check_prob(prob: float) -> None:
    """Check the probability with which a random transform is applied.

    Args:
        prob (float): The probability.

    Raises:
        ValueError: If ``prob`` is not in ``[0, 1]``.
    """
    if not 0 <= prob <= 1:
        raise ValueError(f'prob must be in [0, 1], got {prob}')
