"""Period search: Lomb-Scargle on an explicit frequency grid.

The grid reaches ``max_frequency`` (24 cycles/day by default, periods down to one hour) whatever
the average sampling; astropy's automatic grid stops at 2.5 N/T, so a 0.3 d variable observed once
a night comes out as its 0.75 d alias. The false-alarm probability is given over the same grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.timeseries import LombScargle

MIN_POINTS = 8
DEFAULT_MAX_FREQUENCY = 24.0  # cycles per day
SAMPLES_PER_PEAK = 5
MIN_SAMPLES_PER_PEAK = 3
MAX_FREQUENCIES = 50_000
DISPLAY_FREQUENCIES = 2_000


@dataclass
class PeriodSearch:
    """The strongest period and the periodogram, with the grid it was searched on."""

    period: float
    fap: float
    frequency: np.ndarray  # full grid, cycles/day
    power: np.ndarray
    window_power: np.ndarray
    min_frequency: float
    max_frequency: float
    samples_per_peak: float
    nterms: int
    fap_method: str

    @property
    def best_frequency(self) -> float:
        return 1.0 / self.period


class PeriodSearchSkipped(Exception):
    """The series cannot be searched; the message says why, for the user."""


def frequency_grid(baseline: float, *, max_frequency: float = DEFAULT_MAX_FREQUENCY,
                   samples_per_peak: float = SAMPLES_PER_PEAK,
                   max_frequencies: int = MAX_FREQUENCIES) -> tuple[np.ndarray, float]:
    """Frequencies from 1/baseline to ``max_frequency`` spaced 1/(samples_per_peak * baseline).

    A long baseline first samples peaks more coarsely (not below 3 per peak), then lowers the
    upper frequency, so the grid never exceeds ``max_frequencies``.
    """
    min_frequency = 1.0 / baseline
    spacing = 1.0 / (samples_per_peak * baseline)
    if (max_frequency - min_frequency) / spacing > max_frequencies:
        samples_per_peak = max(MIN_SAMPLES_PER_PEAK, (max_frequencies - 1) / ((max_frequency - min_frequency)
                                                                               * baseline))
        spacing = 1.0 / (samples_per_peak * baseline)
        max_frequency = min(max_frequency, min_frequency + spacing * (max_frequencies - 1))
    count = int(np.floor((max_frequency - min_frequency) / spacing)) + 1
    return min_frequency + spacing * np.arange(count), samples_per_peak


def search(times: np.ndarray, mag: np.ndarray, magerr: np.ndarray, *, nterms: int = 1,
           max_frequency: float = DEFAULT_MAX_FREQUENCY, samples_per_peak: float = SAMPLES_PER_PEAK) -> PeriodSearch:
    """Best period of ``mag(times)`` (days); PeriodSearchSkipped with a sentence when it cannot be searched."""
    times, mag, magerr = (np.asarray(v, dtype=float) for v in (times, mag, magerr))
    usable = np.isfinite(times) & np.isfinite(mag) & np.isfinite(magerr) & (magerr > 0)
    if usable.sum() < MIN_POINTS:
        raise PeriodSearchSkipped(f"No period was searched: {int(usable.sum())} usable points, "
                                  f"{MIN_POINTS} are needed.")
    t, y, dy = times[usable] - times[usable].min(), mag[usable], magerr[usable]
    baseline = float(t.max())
    if baseline <= 0:
        raise PeriodSearchSkipped("No period was searched: all points have the same time.")
    frequency, samples_per_peak = frequency_grid(baseline, max_frequency=max_frequency,
                                                 samples_per_peak=samples_per_peak)
    model = LombScargle(t, y, dy, nterms=nterms)
    power = np.asarray(model.power(frequency), dtype=float)
    if not np.any(np.isfinite(power)):
        raise PeriodSearchSkipped("No period was searched: the periodogram could not be computed for this series.")
    best = int(np.nanargmax(power))
    single = model if nterms == 1 else LombScargle(t, y, dy)
    peak_power = power[best] if nterms == 1 else float(single.power(frequency[best:best + 1])[0])
    fap = float(single.false_alarm_probability(peak_power, method="baluev", minimum_frequency=frequency[0],
                                               maximum_frequency=frequency[-1], samples_per_peak=samples_per_peak))
    window = np.asarray(LombScargle(t, np.ones_like(t), fit_mean=False, center_data=False).power(frequency),
                        dtype=float)
    return PeriodSearch(period=float(1.0 / frequency[best]), fap=fap, frequency=frequency, power=power,
                        window_power=window, min_frequency=float(frequency[0]), max_frequency=float(frequency[-1]),
                        samples_per_peak=float(samples_per_peak), nterms=nterms,
                        fap_method="baluev" if nterms == 1 else "baluev, single-term model at the best frequency")


def display_indices(count: int, limit: int = DISPLAY_FREQUENCIES, power: np.ndarray | None = None) -> np.ndarray:
    """Indices of at most ``limit`` grid points for display: the peak of each of ``limit`` equal bins.

    Keeping each bin's maximum preserves every strong peak, so a client that recomputes the best
    period from the shown arrays finds the server's.
    """
    if count <= limit:
        return np.arange(count)
    edges = np.linspace(0, count, limit + 1).astype(int)
    if power is None:
        return edges[:-1]
    values = np.where(np.isfinite(power), power, -np.inf)
    return np.array([start + int(np.argmax(values[start:end])) for start, end in zip(edges[:-1], edges[1:],
                                                                                     strict=True)])
