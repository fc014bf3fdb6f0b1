"""T1-T4: aperture sums, annulus sky, error model and centroids against known truth."""
from __future__ import annotations

import math

import numpy as np
import pytest

from data_operations.photometry.apertures import Radii, measure
from tests.photometry.kit import gaussian_star

SIGMA = 1.5
FLUX = 1.0e5


def star_image(x: float, y: float, *, sky: float = 100.0, shape=(96, 96)) -> np.ndarray:
    image = np.full(shape, sky)
    gaussian_star(image, x, y, FLUX, SIGMA)
    return image


@pytest.mark.parametrize("position", [(48.0, 47.0), (48.5, 47.5), (48.3173, 46.7712)])
def test_noise_free_aperture_sums_at_5_and_3_sigma(position):
    image = star_image(*position)
    wide = measure(image, [position[0]], [position[1]], Radii(5 * SIGMA, 12, 20)).net[0]
    narrow = measure(image, [position[0]], [position[1]], Radii(3 * SIGMA, 12, 20)).net[0]
    assert abs(wide / FLUX - 1) <= 0.0005
    assert abs(narrow / (FLUX * (1 - math.exp(-4.5))) - 1) <= 0.005


def test_sky_is_a_robust_median_with_faint_stars_in_the_annulus():
    rng = np.random.default_rng(2)
    image = star_image(48.0, 48.0)
    for angle in rng.uniform(0, 2 * np.pi, 10):
        gaussian_star(image, 48 + 15 * np.cos(angle), 48 + 15 * np.sin(angle), 800.0, SIGMA)
    result = measure(image, [48.0], [48.0], Radii(7.5, 12, 20))
    assert abs(result.sky[0] / 100.0 - 1) <= 0.005


@pytest.mark.parametrize("with_error_plane", [False, True])
def test_predicted_errors_match_the_scatter_of_300_realisations(with_error_plane):
    rng = np.random.default_rng(3)
    model = star_image(32.0, 32.0, shape=(64, 64))
    nets, sigmas = [], []
    read_noise = 5.0
    for _ in range(300):
        image = rng.poisson(model).astype(float) + rng.normal(0, read_noise, model.shape)
        error = np.sqrt(model + read_noise ** 2) if with_error_plane else None
        result = measure(image, [32.0], [32.0], Radii(3 * SIGMA, 10, 16), error=error, gain=1.0,
                         read_noise=read_noise)
        nets.append(result.net[0])
        sigmas.append(result.error[0])
    ratio = np.std(nets, ddof=1) / np.median(sigmas)
    assert 0.9 <= ratio <= 1.1


def test_centroids_converge_from_two_pixels_away():
    rng = np.random.default_rng(4)
    truth = np.array([[30.2, 40.7], [60.55, 22.1], [45.0, 70.35]])
    image = np.full((96, 96), 100.0)
    for x, y in truth:
        gaussian_star(image, x, y, FLUX, SIGMA)
    image = rng.poisson(image).astype(float) + rng.normal(0, 5, image.shape)
    offsets = rng.uniform(-1.4, 1.4, truth.shape)
    start = truth + offsets
    assert np.all(np.hypot(*offsets.T) <= 2.0)
    result = measure(image, start[:, 0], start[:, 1], Radii(4.5, 10, 16), centroid_sigma=SIGMA)
    assert np.all(np.abs(result.x - truth[:, 0]) <= 0.05)
    assert np.all(np.abs(result.y - truth[:, 1]) <= 0.05)


def test_masked_pixels_and_the_frame_edge_make_a_measurement_not_measurable():
    image = star_image(48.0, 48.0)
    bad = np.zeros(image.shape, dtype=bool)
    bad[49, 48] = True
    result = measure(image, [48.0, 5.0, 48.0], [48.0, 5.0, 30.0], Radii(4.5, 10, 16), bad=bad)
    assert math.isnan(result.net[0]) and math.isnan(result.net[1])
    assert math.isfinite(result.net[2])
    image[49, 48] = np.nan
    assert math.isnan(measure(image, [48.0], [48.0], Radii(4.5, 10, 16)).net[0])
