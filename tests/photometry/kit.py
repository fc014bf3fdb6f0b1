"""A seeded synthetic-frame kit for the photometry tests (numpy + astropy only).

Frames are LCO-like FITS files: an empty primary, a ``SCI`` image (optionally Rice-compressed) with
a TAN WCS and the header keywords of reduced frames, optional ``BPM`` and ``ERR`` planes, and a
``CAT`` table with the pipeline's column names. Stars are Gaussians integrated over the pixels, so
the true flux inside any aperture is known; a variable star follows m0 + A sin(2 pi (t - t0) / P)
at mid-exposure JD. Everything the tests compare against (true magnitudes, the frame's zero point,
an independent closed-form airmass) is returned alongside the path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from scipy.special import erf

SITE = {"LATITUDE": 30.6797, "LONGITUD": -104.0248, "HEIGHT": 2070.0}  # McDonald (deg East, m)
ZP0 = 23.0


@dataclass
class Star:
    ra: float
    dec: float
    mag: float
    #: Added to the catalogue magnitude only (a catalogue error); the pixels use ``mag``.
    catalog_offset: float = 0.0
    #: (amplitude mag, period d, t0 JD): a sinusoidal variable.
    variation: tuple[float, float, float] | None = None
    name: str = ""

    def mag_at(self, jd: float) -> float:
        if self.variation is None:
            return self.mag
        amplitude, period, t0 = self.variation
        return self.mag + amplitude * math.sin(2 * math.pi * (jd - t0) / period)


@dataclass
class Field:
    """A target and its comparison stars around (ra, dec)."""

    ra: float
    dec: float
    target: Star
    stars: list[Star] = field(default_factory=list)

    @property
    def all_stars(self) -> list[Star]:
        return [self.target, *self.stars]


@dataclass
class FrameTruth:
    path: Path
    basename: str
    mid_jd: float
    zero_point: float
    airmass: float
    target_mag: float
    counts: dict[str, float]


def make_field(rng: np.random.Generator, *, ra: float = 40.0, dec: float = 30.0, count: int = 20,
               target_mag: float = 14.0, variation: tuple[float, float, float] | None = None,
               extent_arcsec: float = 100.0, mags: tuple[float, float] = (12.5, 15.5)) -> Field:
    """A target at the centre and ``count`` comparison stars at least 15 arcsec from any other."""
    placed: list[tuple[float, float]] = [(0.0, 0.0)]
    stars = []
    while len(stars) < count:
        dx, dy = rng.uniform(-extent_arcsec, extent_arcsec, 2)
        if min(math.hypot(dx - px, dy - py) for px, py in placed) < 15.0:
            continue
        placed.append((dx, dy))
        stars.append(Star(ra + dx / 3600 / math.cos(math.radians(dec)), dec + dy / 3600,
                          float(rng.uniform(*mags)), name=f"star-{len(stars) + 1:03d}"))
    target = Star(ra, dec, target_mag, variation=variation, name="target")
    return Field(ra, dec, target, stars)


def gmst_degrees(jd_ut: float) -> float:
    """Greenwich mean sidereal time (IAU 1982 closed form, Meeus 12.4)."""
    t = (jd_ut - 2451545.0) / 36525.0
    return (280.46061837 + 360.98564736629 * (jd_ut - 2451545.0) + 0.000387933 * t * t - t ** 3 / 38710000) % 360


def precessed(ra: float, dec: float, jd: float) -> tuple[float, float]:
    """J2000 (ra, dec) precessed to the date with the first-order annual formulae (degrees)."""
    years = (jd - 2451545.0) / 365.25
    m, n = 3.07496 * 15 / 3600, 1.33621 * 15 / 3600  # degrees per year
    ra_r, dec_r = math.radians(ra), math.radians(dec)
    return (ra + (m + n * math.sin(ra_r) * math.tan(dec_r)) * years, dec + n * math.cos(ra_r) * years)


def closed_form_airmass(ra: float, dec: float, jd: float, latitude: float, longitude: float) -> float:
    """sec z from the local hour angle: an independent check on astropy's AltAz."""
    ra_d, dec_d = precessed(ra, dec, jd)
    hour_angle = math.radians((gmst_degrees(jd) + longitude - ra_d) % 360)
    lat, dec_r = math.radians(latitude), math.radians(dec_d)
    return 1.0 / (math.sin(lat) * math.sin(dec_r) + math.cos(lat) * math.cos(dec_r) * math.cos(hour_angle))


def transit_jd(night_jd: float, ra: float, longitude: float = SITE["LONGITUD"]) -> float:
    """The JD nearest ``night_jd`` when (ra) crosses the meridian of ``longitude``."""
    offset = ((ra - gmst_degrees(night_jd) - longitude + 180) % 360 - 180) / 360.98564736629
    return night_jd + offset


def nightly_epochs(rng: np.random.Generator, *, nights: int, per_night: int, ra: float,
                   start_jd: float = 2461345.5, spacing_hours: float = 1.0, skip: int = 0,
                   jitter_days: float = 0.005) -> list[float]:
    """Exposure mid-times: ``per_night`` a night around the target's transit, on ``nights`` nights
    chosen (without repeats) among ``nights + skip`` consecutive ones."""
    chosen = np.sort(rng.choice(nights + skip, size=nights, replace=False))
    times = []
    for night in chosen:
        transit = transit_jd(start_jd + float(night), ra)
        first = transit - (per_night - 1) * spacing_hours / 48.0
        times.extend(first + k * spacing_hours / 24.0 + rng.uniform(-jitter_days, jitter_days)
                     for k in range(per_night))
    return times


def frame_wcs(field_: Field, shape: tuple[int, int], scale: float) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [field_.ra, field_.dec]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cd = [[-scale / 3600, 0.0], [0.0, scale / 3600]]
    return wcs


def gaussian_star(image: np.ndarray, x: float, y: float, flux: float, sigma: float) -> None:
    """Add a pixel-integrated Gaussian of total ``flux`` centred at (x, y) (0-based centres)."""
    half = int(math.ceil(6 * sigma)) + 1
    x0, y0 = int(round(x)), int(round(y))
    xs = np.arange(max(x0 - half, 0), min(x0 + half + 1, image.shape[1]))
    ys = np.arange(max(y0 - half, 0), min(y0 + half + 1, image.shape[0]))
    if xs.size == 0 or ys.size == 0:
        return
    root = sigma * math.sqrt(2)
    gx = (erf((xs + 0.5 - x) / root) - erf((xs - 0.5 - x) / root)) / 2
    gy = (erf((ys + 0.5 - y) / root) - erf((ys - 0.5 - y) / root)) / 2
    image[np.ix_(ys, xs)] += flux * np.outer(gy, gx)


def make_frame(directory: Path, basename: str, field_: Field, mid_jd: float, rng: np.random.Generator, *,
               shape: tuple[int, int] = (256, 256), scale: float = 1.0, fwhm_px: float = 3.0, sky: float = 100.0,
               read_noise: float = 5.0, exptime: float = 60.0, transparency: float = 0.0, extinction: float = 0.15,
               filter_name: str = "rp", render: bool = True, compressed: bool = True, with_bpm: bool = False,
               with_err: bool = False, hot_pixels: list[tuple[int, int]] = (), cat_mag_noise: float = 0.0,
               header_airmass: bool = True, extra_header: dict | None = None, catalog: bool = True,
               drop_target_from_catalog: bool = False, target_flux_scale: float = 1.0,
               zero_point0: float = ZP0) -> FrameTruth:
    """Write one frame of ``field_`` observed at mid-exposure ``mid_jd``; return its truth."""
    airmass = closed_form_airmass(field_.ra, field_.dec, mid_jd, SITE["LATITUDE"], SITE["LONGITUD"])
    zero_point = zero_point0 - extinction * (airmass - 1.0) - transparency
    wcs = frame_wcs(field_, shape, scale)
    sigma = fwhm_px / 2.3548
    model = np.full(shape, sky, dtype=float)
    rows, counts = [], {}
    for star in field_.all_stars:
        mag = star.mag_at(mid_jd)
        flux = 10 ** (-0.4 * (mag - zero_point)) * exptime / 60.0
        if star is field_.target:
            flux *= target_flux_scale
        x, y = (float(v) for v in wcs.world_to_pixel_values(star.ra, star.dec))
        counts[star.name] = flux
        if render:
            gaussian_star(model, x, y, flux, sigma)
        if -0.5 <= x < shape[1] - 0.5 and -0.5 <= y < shape[0] - 0.5:
            if (star is field_.target and drop_target_from_catalog) or flux <= 0:
                continue
            magerr = 1.0857 * math.sqrt(flux + math.pi * (2 * sigma) ** 2 * sky) / flux
            catalog_mag = mag + star.catalog_offset + float(rng.normal(0, cat_mag_noise)) if cat_mag_noise else \
                mag + star.catalog_offset
            rows.append((x + 1, y + 1, x + 1, y + 1, star.ra, star.dec, flux, math.sqrt(flux), catalog_mag,
                         max(magerr, cat_mag_noise), flux / (2 * math.pi * sigma ** 2), 0, fwhm_px * scale))
    if render:
        image = rng.poisson(np.clip(model, 0, None)).astype(float) + rng.normal(0, read_noise, shape)
    else:
        image = np.full(shape, sky)
    error_plane = np.sqrt(np.clip(model, 0, None) + read_noise ** 2)
    bpm = np.zeros(shape, dtype=np.uint8)
    for px, py in hot_pixels:
        image[py, px] = 60000.0
        bpm[py, px] = 1
    start = Time(mid_jd - exptime / 2 / 86400, format="jd", scale="utc")
    header = wcs.to_header()
    header.update({"DATE-OBS": start.isot, "MJD-OBS": start.mjd, "EXPTIME": exptime, "FILTER": filter_name,
                   "OBJECT": field_.target.name, "PIXSCALE": scale, "GAIN": 1.0, "RDNOISE": read_noise,
                   "SATURATE": 60000.0, **SITE, "L1FWHM": fwhm_px * scale, "L1ZP": zero_point,
                   "SRCTYPE": "EXTRASOLAR", "CAT-RA": _sexagesimal(field_.ra / 15), "CAT-DEC": _sexagesimal(field_.dec),
                   "SITEID": "elp", "TELID": "1m0a", "INSTRUME": "fa05"})
    if header_airmass:
        header["AIRMASS"] = airmass
    header.update(extra_header or {})
    data = image.astype(np.float32)
    sci = fits.CompImageHDU(data, header=header, name="SCI", compression_type="RICE_1", quantize_level=64) \
        if compressed else fits.ImageHDU(data, header=header, name="SCI")
    hdus = [fits.PrimaryHDU(), sci]
    if with_bpm:
        hdus.append(fits.ImageHDU(bpm, name="BPM"))
    if with_err:
        hdus.append(fits.ImageHDU(error_plane.astype(np.float32), name="ERR"))
    if catalog:
        names = ("x", "y", "xwin", "ywin", "ra", "dec", "flux", "fluxerr", "mag", "magerr", "peak", "flag", "fwhm")
        formats = ("E", "E", "E", "E", "D", "D", "E", "E", "E", "E", "E", "I", "E")
        columns = [fits.Column(name=n, format=f, array=np.array([row[i] for row in rows]))
                   for i, (n, f) in enumerate(zip(names, formats, strict=True))]
        hdus.append(fits.BinTableHDU.from_columns(columns, name="CAT"))
    path = Path(directory) / f"{basename}.fits.fz"
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return FrameTruth(path=path, basename=basename, mid_jd=mid_jd, zero_point=zero_point, airmass=airmass,
                      target_mag=field_.target.mag_at(mid_jd), counts=counts)


def _sexagesimal(value: float) -> str:
    """``value`` (hours or degrees) as [-]HH:MM:SS.sss, rounded to the millisecond (never 60 seconds)."""
    sign = "-" if value < 0 else ""
    hours, rest = divmod(round(abs(value) * 3_600_000), 3_600_000)
    minutes, millis = divmod(rest, 60_000)
    return f"{sign}{hours:02d}:{minutes:02d}:{millis / 1000:06.3f}"


def make_series(directory: Path, field_: Field, times: list[float], rng: np.random.Generator, *,
                prefix: str = "elp1m008-fa05-20261101", transparency: float = 0.2, **options) -> list[FrameTruth]:
    """One frame per mid-exposure time, with a random transparency loss of up to ``transparency`` mag."""
    return [make_frame(directory, f"{prefix}-{index:04d}-e91", field_, jd, rng,
                       transparency=float(rng.uniform(0, transparency)), **options)
            for index, jd in enumerate(times)]


def make_catalog_frame(directory: Path, basename: str, *, ra: float, dec: float, mid_jd: float,
                       catalog: dict[str, np.ndarray], filter_name: str = "rp", shape: tuple[int, int] = (256, 256),
                       scale: float = 3.2, exptime: float = 60.0, sky: float = 100.0,
                       saturate: float = 60000.0) -> FrameTruth:
    """A frame whose ``CAT`` rows are given (``ra``, ``dec``, ``mag``, ``magerr`` and optionally ``peak``,
    ``flag``); pixel positions come from the frame's TAN WCS centred on (ra, dec). The image is flat sky:
    catalogue operations never read it."""
    pointing = Field(ra, dec, Star(ra, dec, 15.0, name="centre"))
    wcs = frame_wcs(pointing, shape, scale)
    x, y = wcs.world_to_pixel_values(np.asarray(catalog["ra"], dtype=float), np.asarray(catalog["dec"], dtype=float))
    mag = np.asarray(catalog["mag"], dtype=float)
    flux = 10 ** (-0.4 * (mag - ZP0)) * exptime / 60.0
    count = mag.size
    columns = {"x": x + 1, "y": y + 1, "xwin": x + 1, "ywin": y + 1, "ra": catalog["ra"], "dec": catalog["dec"],
               "flux": flux, "fluxerr": np.sqrt(flux), "mag": mag, "magerr": catalog["magerr"],
               "peak": catalog.get("peak", np.full(count, 1000.0)), "flag": catalog.get("flag", np.zeros(count)),
               "fwhm": np.full(count, 2.0 * scale)}
    formats = {"ra": "D", "dec": "D", "flag": "I"}
    hdu_columns = [fits.Column(name=name, format=formats.get(name, "E"), array=np.asarray(values))
                   for name, values in columns.items()]
    start = Time(mid_jd - exptime / 2 / 86400, format="jd", scale="utc")
    header = wcs.to_header()
    header.update({"DATE-OBS": start.isot, "MJD-OBS": start.mjd, "EXPTIME": exptime, "FILTER": filter_name,
                   "OBJECT": "cluster", "PIXSCALE": scale, "GAIN": 1.0, "RDNOISE": 5.0, "SATURATE": saturate,
                   **SITE, "SITEID": "elp", "TELID": "1m0a", "INSTRUME": "fa05"})
    sci = fits.CompImageHDU(np.full(shape, sky, dtype=np.float32), header=header, name="SCI",
                            compression_type="RICE_1", quantize_level=64)
    hdus = fits.HDUList([fits.PrimaryHDU(), sci, fits.BinTableHDU.from_columns(hdu_columns, name="CAT")])
    path = Path(directory) / f"{basename}.fits.fz"
    hdus.writeto(path, overwrite=True)
    return FrameTruth(path=path, basename=basename, mid_jd=mid_jd, zero_point=ZP0, airmass=1.0, target_mag=math.nan,
                      counts={})


# --- moving targets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Track:
    """A moving target's sky track: a known rate and direction, plus an optional curvature in Dec.

    Rates are arcsec per hour on the sky (the RA rate already includes cos Dec); the position at
    ``jd`` is exact, so tests compare recovered positions with it.
    """

    ra0: float
    dec0: float
    jd0: float
    ra_rate: float
    dec_rate: float
    dec_curvature: float = 0.0  # arcsec per hour squared

    def at(self, jd: float) -> tuple[float, float]:
        hours = (jd - self.jd0) * 24.0
        dec = self.dec0 + (self.dec_rate * hours + self.dec_curvature * hours ** 2) / 3600.0
        return self.ra0 + self.ra_rate * hours / 3600.0 / math.cos(math.radians(self.dec0)), dec


def scatter_stars(rng: np.random.Generator, *, ra: float, dec: float, count: int, x_range: tuple[float, float],
                  y_range: tuple[float, float], mags: tuple[float, float] = (12.5, 15.5),
                  keep_clear_of_y: float = 0.0, spacing: float = 15.0) -> list[Star]:
    """``count`` stars in a box of offsets (arcsec) around (ra, dec), ``spacing`` apart, none within
    ``keep_clear_of_y`` of the line y = 0 (where a moving target runs)."""
    placed: list[tuple[float, float]] = []
    stars = []
    while len(stars) < count:
        dx, dy = rng.uniform(*x_range), rng.uniform(*y_range)
        if abs(dy) < keep_clear_of_y or any(math.hypot(dx - px, dy - py) < spacing for px, py in placed):
            continue
        placed.append((dx, dy))
        stars.append(Star(ra + dx / 3600 / math.cos(math.radians(dec)), dec + dy / 3600, float(rng.uniform(*mags)),
                          name=f"star-{len(stars) + 1:03d}"))
    return stars


def make_moving_series(directory: Path, stars: list[Star], track: Track, times: list[float],
                       rng: np.random.Generator, *, tracking: str = "non-sidereal", target_mag: float = 14.0,
                       pointing: tuple[float, float] | None = None, srctype: str = "MINORPLANET",
                       prefix: str = "lsc1m005-fa15-20261101", transparency: float = 0.2,
                       extra_header: dict | None = None, **options) -> list[FrameTruth]:
    """Frames of a target moving along ``track`` among fixed ``stars``.

    ``non-sidereal``: the telescope follows the target (it stays at the frame centre, the stars
    drift) and ``CAT-RA``/``CAT-DEC`` carry its position on each frame. ``sidereal``: the pointing
    stays at ``pointing`` and the target crosses the detector. ``SRCTYPE`` is ``srctype``.
    """
    frames = []
    for index, jd in enumerate(times):
        ra, dec = track.at(jd)
        target = Star(ra, dec, target_mag, name="target")
        centre = (ra, dec) if tracking == "non-sidereal" else (pointing or (track.ra0, track.dec0))
        scene = Field(centre[0], centre[1], target, stars)
        header = {"SRCTYPE": srctype, "OBJECT": "2026 XY1"}
        if tracking == "non-sidereal":
            header.update({"CAT-RA": _sexagesimal(ra / 15), "CAT-DEC": _sexagesimal(dec)})
        header.update(extra_header or {})
        frames.append(make_frame(directory, f"{prefix}-{index:04d}-e91", scene, jd, rng,
                                 transparency=float(rng.uniform(0, transparency)), extra_header=header, **options))
    return frames
