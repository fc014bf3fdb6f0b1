"""Synthetic star fields whose WCS places the same sky at known pixel offsets."""
from __future__ import annotations

import numpy as np

BACKGROUND = 10.0
STAR_PEAK = 1000.0
STAR_SIGMA = 1.5


def star_field(shape: tuple[int, int], stars: list[tuple[float, float]], *, seed: int = 0,
               noise: float = 0.0) -> np.ndarray:
    """Background plus Gaussian stars at the given 0-based (x, y) pixel positions, float32."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, BACKGROUND, dtype=np.float64)
    for x, y in stars:
        image += STAR_PEAK * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * STAR_SIGMA**2))
    if noise:
        image += np.random.default_rng(seed).normal(0.0, noise, size=shape)
    return image.astype(np.float32)


def shifted_crpix(shape: tuple[int, int], dx: float, dy: float) -> dict[str, float]:
    """CRPIX keywords for a frame whose pixel (x + dx, y + dy) shows the sky of the reference's (x, y).

    The reference is the conftest ``tan_header`` frame (CRPIX at the image centre).
    """
    return {"CRPIX1": (shape[1] + 1) / 2 + dx, "CRPIX2": (shape[0] + 1) / 2 + dy}


def centroid(image: np.ndarray, x: float, y: float, radius: int = 6) -> tuple[float, float]:
    """Background-subtracted first moment in a box around (x, y); returns (x, y)."""
    x0, y0 = int(round(x)), int(round(y))
    box = image[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1].astype(np.float64)
    weights = np.clip(box - np.nanmedian(image), 0, None)
    rows, cols = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return float((weights * cols).sum() / weights.sum()), float((weights * rows).sum() / weights.sum())
