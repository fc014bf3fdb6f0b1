"""Realistic synthetic LCO-like frames for development, tests and benchmarks.

Pure numpy/astropy (no Django), so benchmark suites can import it directly. A frame has an empty
primary HDU, a Rice-compressed float32 ``SCI`` image with a TAN WCS and LCO-style header keywords,
and a ``CAT`` table listing the injected stars, so that operations which align, stack or measure
frames have ground truth to be checked against.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from astropy.coordinates import Angle
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.time import Time
from astropy.wcs import WCS

from data_operations.photometry.gaia.provider import SYNTHETIC_BAND_OF_FILTER
from datalab.local_archive.demo_cluster import M67, MIN_SKY_RADIUS_ARCMIN, OpenCluster, cluster_sky, field_star_count
from datalab.local_archive.synthetic_gaia import moved

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
DEFAULT_PIXEL_SCALE_ARCSEC = 0.389
SUBTRACTIVE_DITHER_1 = 1  # the FITS tiled-image convention's ZQUANTIZ code, fpack's default
DEFAULT_OBSERVATION_DATE = datetime(2026, 11, 1, 3, 12, 45, tzinfo=timezone.utc)

_vector_erf = np.frompyfunc(math.erf, 1, 1)
ZERO_POINT_1S = 23.5  # magnitude giving 1 ADU/s above the atmosphere, every filter (white stars)
EXTINCTION_PER_AIRMASS = 0.12  # magnitudes


@dataclass(frozen=True)
class Site:
    latitude: float  # degrees north
    longitude: float  # degrees east
    height: float  # metres


# Approximate coordinates of the observatory's sites (enough for airmass and barycentric times).
SITES = {
    "coj": Site(-31.2733, 149.0711, 1116.0),
    "cpt": Site(-32.3806, 20.8101, 1460.0),
    "elp": Site(30.6797, -104.0151, 2070.0),
    "lsc": Site(-30.1673, -70.8047, 2198.0),
    "ogg": Site(20.7069, -156.2575, 3055.0),
    "tfn": Site(28.3003, -16.5117, 2330.0),
}


@dataclass(frozen=True)
class StarField:
    """Stars at fixed sky positions with their true magnitudes (the same in every filter)."""

    ra: np.ndarray
    dec: np.ndarray
    mag: np.ndarray

    def with_stars(self, ra: list[float], dec: list[float], mag: list[float]) -> StarField:
        return StarField(np.concatenate([self.ra, ra]), np.concatenate([self.dec, dec]),
                         np.concatenate([self.mag, mag]))


def star_field(*, ra: float, dec: float, radius_deg: float, n_stars: int, seed: int,
               brightest: float = 13.5, faintest: float = 19.5) -> StarField:
    """Stars spread uniformly over a disc of the sky, magnitudes rising like real star counts (x2 per mag)."""
    rng = np.random.default_rng(seed)
    radius = radius_deg * np.sqrt(rng.uniform(0.0, 1.0, n_stars))
    angle = rng.uniform(0.0, 2.0 * math.pi, n_stars)
    star_dec = dec + radius * np.sin(angle)
    star_ra = (ra + radius * np.cos(angle) / math.cos(math.radians(dec))) % 360.0
    slope = 0.3  # log10 of the count ratio per magnitude
    low, high = 10.0 ** (slope * brightest), 10.0 ** (slope * faintest)
    magnitudes = np.log10(low + rng.uniform(0.0, 1.0, n_stars) * (high - low)) / slope
    return StarField(star_ra, star_dec, magnitudes)


def julian_date(moment: datetime) -> float:
    return _as_utc(moment).timestamp() / 86400.0 + 2440587.5


def local_sidereal_hours(moment: datetime, longitude: float) -> float:
    """Mean local sidereal time from the closed-form GMST (UT1 taken as UTC; good to a second)."""
    days = julian_date(moment) - 2451545.0
    return (18.697374558 + 24.06570982441908 * days + longitude / 15.0) % 24.0


def airmass(*, moment: datetime, site: Site, ra: float, dec: float) -> float:
    """sec z of (ra, dec) seen from ``site`` at ``moment``: the plane-parallel airmass."""
    hour_angle = math.radians(15.0 * (local_sidereal_hours(moment, site.longitude) - ra / 15.0))
    latitude, declination = math.radians(site.latitude), math.radians(dec)
    cos_zenith = (math.sin(latitude) * math.sin(declination)
                  + math.cos(latitude) * math.cos(declination) * math.cos(hour_angle))
    return 1.0 / cos_zenith if cos_zenith > 0.05 else 20.0


def transit_time(*, day: datetime, ra: float, longitude: float) -> datetime:
    """The moment on the UTC day of ``day`` when (ra) crosses the meridian of ``longitude``."""
    start = _as_utc(day).replace(hour=0, minute=0, second=0, microsecond=0)
    hours = (ra / 15.0 - local_sidereal_hours(start, longitude)) % 24.0 / 1.0027379093
    return start + timedelta(hours=hours)


def lco_basename(
    *, site_id: str, instrument_id: str, observation_date: datetime, frame_number: int,
    camera_host: str = "1m011", reduction_suffix: str = "e91",
) -> str:
    """An LCO-style basename, e.g. ``coj1m011-fa12-20261101-0042-e91``."""
    day = f"{observation_date:%Y%m%d}"
    return f"{site_id}{camera_host}-{instrument_id}-{day}-{frame_number:04d}-{reduction_suffix}"


def tan_wcs(*, shape: tuple[int, int], ra: float, dec: float, pixel_scale_arcsec: float,
            rotation_deg: float = 0.0) -> WCS:
    """A TAN WCS with CRVAL at (ra, dec) on the image centre, north up and east left when unrotated."""
    ny, nx = shape
    scale_deg = pixel_scale_arcsec / 3600.0
    theta = math.radians(rotation_deg)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.cd = np.array([
        [-scale_deg * math.cos(theta), scale_deg * math.sin(theta)],
        [scale_deg * math.sin(theta), scale_deg * math.cos(theta)],
    ])
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.equinox = 2000.0
    return wcs


def _pixel_integrated_profile(centres: np.ndarray, first_pixel: np.ndarray, width: int,
                              sigma: float) -> np.ndarray:
    """1-D Gaussian integrated over each pixel of a stamp: shape (n_stars, width), rows sum to ~1.

    Integrating over the pixel (rather than sampling its centre) keeps centroids unbiased.
    """
    pixel_centres = first_pixel[:, None] + np.arange(width)[None, :]
    scale = 1.0 / (math.sqrt(2.0) * sigma)
    upper = _vector_erf((pixel_centres + 0.5 - centres[:, None]) * scale).astype(np.float64)
    lower = _vector_erf((pixel_centres - 0.5 - centres[:, None]) * scale).astype(np.float64)
    return 0.5 * (upper - lower)


def render_stars(image: np.ndarray, *, x: np.ndarray, y: np.ndarray, flux: np.ndarray,
                 fwhm_pixels: float) -> None:
    """Add Gaussian stars in place; x, y are 0-based pixel positions, flux is the total in ADU.

    All stamps are computed at once as separable outer products and scattered with one
    ``np.add.at``, so hundreds of stars cost a few milliseconds.
    """
    if len(x) == 0:
        return
    ny, nx = image.shape
    sigma = fwhm_pixels * FWHM_TO_SIGMA
    half_width = int(math.ceil(4.0 * sigma)) + 1
    width = 2 * half_width + 1
    first_x = np.round(x).astype(np.int64) - half_width
    first_y = np.round(y).astype(np.int64) - half_width
    profile_x = _pixel_integrated_profile(x, first_x, width, sigma)
    profile_y = _pixel_integrated_profile(y, first_y, width, sigma)
    stamps = flux[:, None, None] * profile_y[:, :, None] * profile_x[:, None, :]
    columns = np.broadcast_to(first_x[:, None, None] + np.arange(width)[None, None, :], stamps.shape)
    rows = np.broadcast_to(first_y[:, None, None] + np.arange(width)[None, :, None], stamps.shape)
    inside = (columns >= 0) & (columns < nx) & (rows >= 0) & (rows < ny)
    np.add.at(image, (rows[inside], columns[inside]), stamps[inside].astype(image.dtype))


def add_cosmic_rays(image: np.ndarray, rng: np.random.Generator, *, count: int) -> None:
    """Add short, sharp cosmic-ray tracks (1-8 px long) that belong to no star."""
    ny, nx = image.shape
    for _ in range(count):
        length = int(rng.integers(1, 9))
        angle = rng.uniform(0.0, math.pi)
        start_x, start_y = rng.uniform(0, nx - 1), rng.uniform(0, ny - 1)
        steps = np.arange(length)
        cols = np.clip(np.round(start_x + steps * math.cos(angle)).astype(int), 0, nx - 1)
        rows = np.clip(np.round(start_y + steps * math.sin(angle)).astype(int), 0, ny - 1)
        image[rows, cols] += rng.uniform(800.0, 20000.0, size=length).astype(image.dtype)


def _catalog_hdu(columns: dict[str, np.ndarray]) -> fits.BinTableHDU:
    formats = {"flag": "I", "ra": "D", "dec": "D", "x": "D", "y": "D", "xwin": "D", "ywin": "D"}
    table_columns = [
        fits.Column(name=name, format=formats.get(name, "E"), array=values)
        for name, values in columns.items()
    ]
    return fits.BinTableHDU.from_columns(table_columns, name="CAT")


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _fits_time(moment: datetime) -> str:
    return _as_utc(moment).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def make_frame(
    *,
    shape: tuple[int, int] = (2048, 2048),
    seed: int = 0,
    filter_name: str = "rp",
    target_name: str = "M51",
    ra: float = 202.4696,
    dec: float = 47.1952,
    observation_date: datetime = DEFAULT_OBSERVATION_DATE,
    site_id: str = "coj",
    telescope_id: str = "1m0a",
    instrument_id: str = "fa12",
    proposal_id: str = "LCO2026B-001",
    public_date: datetime | None = None,
    exposure_time: float = 60.0,
    request_id: int = 3000001,
    frame_number: int = 1,
    basename: str | None = None,
    n_stars: int = 300,
    cosmic_rays: bool = True,
    fwhm_pixels: float = 2.6,
    pixel_scale_arcsec: float = DEFAULT_PIXEL_SCALE_ARCSEC,
    rotation_deg: float = 0.0,
    sky_level: float | None = None,
    gain: float = 1.0,
    read_noise: float = 7.5,
    saturate: float = 60000.0,
    field: StarField | None = None,
    target_ra: float | None = None,
    target_dec: float | None = None,
    source_type: str = "EXTRASOLAR",
) -> fits.HDUList:
    """A realistic reduced frame, deterministic for ``seed`` and the other arguments.

    ``public_date`` defaults to one year after ``observation_date`` (LCO's proprietary period).
    Star positions in ``CAT`` are 1-based and exact; ``ra``/``dec`` come from the frame's WCS.
    Without ``field`` the frame has ``n_stars`` random stars of its own; with it, the field's stars
    at their sky positions, with fluxes from their magnitudes, the frame's zero point, the
    exposure time and the extinction at the frame's airmass (so frames of one field share stars).
    ``ra``/``dec`` are the pointing; ``target_ra``/``target_dec`` (default: the pointing) the
    catalogue position of the target (``CAT-RA``/``CAT-DEC``), whose kind is ``source_type``
    (``SRCTYPE``: ``EXTRASOLAR`` for a star, ``MINORPLANET`` for an asteroid the telescope tracks).
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    observation_date = _as_utc(observation_date)
    public_date = _as_utc(public_date) if public_date else observation_date + timedelta(days=365)
    basename = basename or lco_basename(
        site_id=site_id, instrument_id=instrument_id, observation_date=observation_date,
        frame_number=frame_number,
    )
    wcs = tan_wcs(shape=shape, ra=ra, dec=dec, pixel_scale_arcsec=pixel_scale_arcsec,
                  rotation_deg=rotation_deg)
    site = SITES.get(site_id, SITES["coj"])
    middle = observation_date + timedelta(seconds=exposure_time / 2.0)
    frame_airmass = airmass(moment=middle, site=site, ra=ra, dec=dec)
    frame_zero_point = ZERO_POINT_1S - EXTINCTION_PER_AIRMASS * (frame_airmass - 1.0)

    # Sky: a level of a few hundred ADU with a gentle linear gradient across the chip.
    sky_level = float(sky_level if sky_level is not None else rng.uniform(150.0, 900.0))
    gradient_x, gradient_y = rng.uniform(-0.05, 0.05, size=2)
    columns = np.linspace(-0.5, 0.5, nx, dtype=np.float32)[None, :]
    rows = np.linspace(-0.5, 0.5, ny, dtype=np.float32)[:, None]
    sky = sky_level * (1.0 + np.float32(gradient_x) * columns + np.float32(gradient_y) * rows)
    image = np.ascontiguousarray(sky, dtype=np.float32)

    margin = 3.0
    if field is None:
        # Stars: uniform positions, power-law fluxes (many faint, few bright), 0-based pixels.
        star_x = rng.uniform(margin, nx - 1 - margin, size=n_stars)
        star_y = rng.uniform(margin, ny - 1 - margin, size=n_stars)
        star_flux = np.minimum(2000.0 * rng.uniform(0.0, 1.0, size=n_stars) ** (-1.0 / 1.2), 5.0e6)
    else:
        field_x, field_y = wcs.all_world2pix(field.ra, field.dec, 0)
        inside = ((field_x >= margin) & (field_x <= nx - 1 - margin)
                  & (field_y >= margin) & (field_y <= ny - 1 - margin))
        star_x, star_y = field_x[inside], field_y[inside]
        star_flux = exposure_time * 10.0 ** (-0.4 * (field.mag[inside] - frame_zero_point))
    render_stars(image, x=star_x, y=star_y, flux=star_flux, fwhm_pixels=fwhm_pixels)

    # Noise: Poisson (Gaussian approximation) on sky + stars, plus read noise, in ADU.
    variance = np.maximum(image, 0.0) / np.float32(gain) + np.float32((read_noise / gain) ** 2)
    image += np.sqrt(variance) * rng.standard_normal(size=shape, dtype=np.float32)
    if cosmic_rays:
        add_cosmic_rays(image, rng, count=int(rng.integers(5, 16)))
    np.minimum(image, np.float32(saturate), out=image)

    sigma = fwhm_pixels * FWHM_TO_SIGMA
    peak = star_flux / (2.0 * math.pi * sigma**2)
    aperture_pixels = math.pi * (2.0 * fwhm_pixels) ** 2
    flux_error = np.sqrt(star_flux / gain + aperture_pixels * (sky_level / gain + (read_noise / gain) ** 2))
    zero_point = frame_zero_point + 2.5 * math.log10(exposure_time)
    star_ra, star_dec = wcs.all_pix2world(star_x + 1.0, star_y + 1.0, 1)
    catalog = {
        "x": star_x + 1.0, "y": star_y + 1.0, "xwin": star_x + 1.0, "ywin": star_y + 1.0,
        "flux": star_flux, "fluxerr": flux_error, "peak": peak,
        "flag": np.where(peak + sky_level >= saturate, 4, 0).astype(np.int16),
        "ra": star_ra, "dec": star_dec,
        "mag": zero_point - 2.5 * np.log10(star_flux), "magerr": 1.0857 * flux_error / star_flux,
        "fwhm": np.full(len(star_x), fwhm_pixels),
    }

    header = fits.Header()
    header.update(wcs.to_header())
    for key in ("CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2"):
        header.remove(key, ignore_missing=True)
    for axis in (1, 2):
        for column in (1, 2):
            header[f"CD{axis}_{column}"] = float(wcs.wcs.cd[axis - 1, column - 1])
    observation_time = Time(observation_date)
    pointing = (Angle(ra, unit="deg").to_string(unit="hourangle", sep=":", precision=3),
                Angle(dec, unit="deg").to_string(unit="deg", sep=":", precision=2, alwayssign=True))
    target = (pointing if target_ra is None or target_dec is None else
              (Angle(target_ra, unit="deg").to_string(unit="hourangle", sep=":", precision=3),
               Angle(target_dec, unit="deg").to_string(unit="deg", sep=":", precision=2, alwayssign=True)))
    header.update({
        "ORIGNAME": basename[:-3] + "e00" if basename.endswith("e91") else basename,
        "OBJECT": target_name,
        "FILTER": filter_name,
        "DATE": (_fits_time(observation_date + timedelta(seconds=exposure_time + 75.0)),
                 "[UTC] Date this FITS file was written"),
        "DATE-OBS": (_fits_time(observation_date), "[UTC] Start of the exposure"),
        "UTSTART": f"{observation_date:%H:%M:%S}.{observation_date.microsecond // 1000:03d}",
        "DAY-OBS": f"{observation_date:%Y%m%d}",
        "MJD-OBS": round(float(observation_time.mjd), 8),
        "EXPTIME": float(exposure_time),
        "SITEID": site_id,
        "TELID": telescope_id,
        "INSTRUME": instrument_id,
        "PROPID": proposal_id,
        "L1PUBDAT": _fits_time(public_date),
        "RLEVEL": 91,
        "OBSTYPE": "EXPOSE",
        "REQNUM": int(request_id),
        "RA": pointing[0],
        "DEC": pointing[1],
        "CAT-RA": target[0],
        "CAT-DEC": target[1],
        "SRCTYPE": source_type,
        "LATITUDE": site.latitude,
        "LONGITUD": site.longitude,
        "HEIGHT": site.height,
        "AIRMASS": (round(frame_airmass, 4), "sec z at the middle of the exposure"),
        "PIXSCALE": float(pixel_scale_arcsec),
        "GAIN": float(gain),
        "RDNOISE": float(read_noise),
        "SATURATE": float(saturate),
        "L1FWHM": round(fwhm_pixels * pixel_scale_arcsec, 3),
        "L1MEAN": round(sky_level, 3),
        "L1ZP": (round(frame_zero_point, 4), "[mag] 1 ADU/s, after extinction at AIRMASS"),
    })
    # Quantised with subtractive dithering, as fpack writes archive frames; a fixed dither seed
    # makes the compressed bytes (and so the md5) reproducible.
    science = fits.CompImageHDU(data=image, header=header, name="SCI", compression_type="RICE_1",
                                quantize_method=SUBTRACTIVE_DITHER_1, dither_seed=1 + seed % 10000)
    return fits.HDUList([fits.PrimaryHDU(), science, _catalog_hdu(catalog)])


def write_frame(hdul: fits.HDUList, path: str | os.PathLike[str]) -> Path:
    """Write a frame atomically (temporary name, then rename), so readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        hdul.writeto(temporary, overwrite=True, checksum=False)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


# --- the demo sky ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoSeries:
    """Frames of one target: one star field, dithered pointings, one or more filters."""

    target: str
    ra: float
    dec: float
    site: str
    instrument: str
    proposal: str
    filters: tuple[str, ...]
    exposures_per_filter: int
    nights: int = 1  # consecutive nights ending on the demo night, exposures spread over them
    cadence_minutes: float = 4.0
    variable: tuple[float, float, float] | None = None  # (mean mag, amplitude mag, period days)
    mover: tuple[float, float, float] | None = None  # (mag, RA rate, Dec rate in arcsec/hour)
    size_divisor: int = 1  # frames of long series are smaller, so the demo set is written quickly
    dither_pixels: float = 40.0  # the most a pointing is offset from the target, per axis
    cluster: OpenCluster | None = None  # a synthetic cluster and field, with the demo's Gaia catalogue


DEMO_SERIES = (
    # Three filters of one field: Median/Stacking with WCS alignment, and a white-star Color Image.
    DemoSeries("M51", 202.4696, 47.1952, "elp", "fa05", "LCOEPO2026B-001", ("rp", "V", "B"), 3),
    # A proprietary programme: invisible to users without its proposal.
    DemoSeries("NGC 2808", 138.0129, -64.8635, "coj", "fa12", "LCO2026B-012", ("rp",), 3),
    # A time series with a variable star at the target position (Light Curve, Variable Star).
    DemoSeries("Datalab V1", 64.1250, -20.4500, "lsc", "fa15", "LCOEPO2026B-001", ("rp",), 12,
               nights=3, cadence_minutes=50.0, variable=(14.0, 0.25, 0.3127), size_divisor=2,
               dither_pixels=8.0),
    # An asteroid the telescope tracks (the moving-target operations): the pointing follows it, the stars
    # drift, and each frame's CAT-RA/CAT-DEC give its position at mid-exposure, as for a non-sidereal request.
    DemoSeries("2026 DL1", 31.4000, 4.2500, "cpt", "fa14", "LCOEPO2026B-001", ("rp",), 6,
               cadence_minutes=10.0, mover=(15.0, 30.0, -12.0), size_divisor=2,
               dither_pixels=8.0),
    # A public open cluster in two filters at M67's position (synthetic stars): the HR Diagram,
    # with the synthetic Gaia catalogue of the demo sky (demo_gaia_catalogue).
    DemoSeries("M67", 132.8250, 11.8000, "tfn", "fa20", "LCOEPO2026B-001", ("gp", "rp"), 3, cluster=M67),
)
DEMO_FWHM_PIXELS = 3.5
DEMO_EXPOSURE_SECONDS = {"rp": 60.0, "V": 90.0, "B": 120.0, "gp": 60.0}
#: The synthetic Gaia catalogue of the demo sky, written beside the demo frames.
DEMO_GAIA_CATALOGUE = "synthetic-gaia-demo-sky.ecsv"


def demo_field(series: DemoSeries, *, size: int, seed: int) -> StarField:
    """The series' fixed star field, wide enough for every dithered pointing."""
    half_diagonal_pixels = (size / 2.0 + series.dither_pixels) * math.sqrt(2.0) + 5.0 + _track_pixels(series)
    half_diagonal_deg = half_diagonal_pixels * DEFAULT_PIXEL_SCALE_ARCSEC / 3600.0
    area_ratio = math.pi * half_diagonal_deg**2 / (size * DEFAULT_PIXEL_SCALE_ARCSEC / 3600.0) ** 2
    stars_in_frame = max(20, round(250 * (size / 1024.0) ** 2))
    return star_field(ra=series.ra, dec=series.dec, radius_deg=half_diagonal_deg,
                      n_stars=round(stars_in_frame * area_ratio), seed=seed)


def _track_pixels(series: DemoSeries) -> float:
    """How far a tracked asteroid (and so the pointing) moves over the series, in pixels."""
    if series.mover is None:
        return 0.0
    hours = series.exposures_per_filter * len(series.filters) * series.cadence_minutes / 60.0
    return math.hypot(series.mover[1], series.mover[2]) * hours / DEFAULT_PIXEL_SCALE_ARCSEC


def variable_magnitude(series: DemoSeries, moment: datetime, epoch: datetime) -> float:
    """m(t) = m0 + A sin(2 pi (t - t0) / P), t at mid-exposure in JD (UTC), t0 the series' first night."""
    mean, amplitude, period = series.variable
    return mean + amplitude * math.sin(2.0 * math.pi * (julian_date(moment) - julian_date(epoch)) / period)


def mover_position(series: DemoSeries, moment: datetime, epoch: datetime) -> tuple[float, float]:
    """The asteroid's (ra, dec) at ``moment``: a straight track from the target position at ``epoch``."""
    _, ra_rate, dec_rate = series.mover
    hours = (_as_utc(moment) - _as_utc(epoch)).total_seconds() / 3600.0
    dec = series.dec + dec_rate * hours / 3600.0
    return series.ra + ra_rate * hours / 3600.0 / math.cos(math.radians(dec)), dec


def demo_frame_plan(*, night: datetime, seed: int = 1, size: int = 1024) -> list[dict]:
    """Keyword arguments for :func:`make_frame` of the demo sky, deterministic for (night, seed, size).

    Every series is observed around its target's meridian transit on the UTC day of ``night``
    (a time series on the nights before it too), each exposure pointed a few to tens of pixels
    away from the last. Frames of the ``LCOEPO`` proposal are public on arrival; the other
    proposal's stay proprietary for a year.
    """
    from datalab.local_archive.demo_proposals import DEMO_PROPOSALS

    rng = np.random.default_rng(seed)
    plan, frame_number = [], 40
    for index, series in enumerate(DEMO_SERIES):
        side = series_frame_side(series, size)
        field = demo_field(series, size=side, seed=seed * 100 + index)
        site = SITES[series.site]
        first_night = _as_utc(night) - timedelta(days=series.nights - 1)
        epoch = transit_time(day=first_night, ra=series.ra, longitude=site.longitude)
        if series.cluster is not None:
            cluster_fields = cluster_frame_fields(demo_cluster_sky(series, size=side, seed=seed * 100 + index),
                                                  jyear=float(Time(epoch).jyear))
        exposures = [(filter_name, repeat) for repeat in range(series.exposures_per_filter)
                     for filter_name in series.filters]
        per_night = math.ceil(len(exposures) / series.nights)
        for number, (filter_name, _) in enumerate(exposures):
            day = first_night + timedelta(days=number // per_night)
            in_night = number % per_night
            transit = transit_time(day=day, ra=series.ra, longitude=site.longitude)
            start = transit + timedelta(minutes=series.cadence_minutes * (in_night - (per_night - 1) / 2.0))
            start = start.replace(microsecond=0)
            exposure = DEMO_EXPOSURE_SECONDS[filter_name]
            middle = start + timedelta(seconds=exposure / 2.0)
            frame_field = field
            target_ra, target_dec, source_type = series.ra, series.dec, "EXTRASOLAR"
            if series.cluster is not None:
                frame_field = cluster_fields[filter_name]
            if series.variable is not None:
                frame_field = frame_field.with_stars([series.ra], [series.dec],
                                                     [variable_magnitude(series, middle, epoch)])
            if series.mover is not None:
                mover_ra, mover_dec = mover_position(series, middle, epoch)
                frame_field = frame_field.with_stars([mover_ra], [mover_dec], [series.mover[0]])
                target_ra, target_dec, source_type = mover_ra, mover_dec, "MINORPLANET"
            dither_x, dither_y = rng.uniform(-series.dither_pixels, series.dither_pixels, size=2)
            scale = DEFAULT_PIXEL_SCALE_ARCSEC / 3600.0
            pointing_dec = target_dec + dither_y * scale
            proprietary = DEMO_PROPOSALS[series.proposal][1]
            plan.append({
                "shape": (side, side),
                "seed": seed * 1000 + len(plan),
                "filter_name": filter_name,
                "target_name": series.target,
                "ra": (target_ra - dither_x * scale / math.cos(math.radians(pointing_dec))) % 360.0,
                "dec": pointing_dec,
                "target_ra": target_ra,
                "target_dec": target_dec,
                "source_type": source_type,
                "observation_date": start,
                "site_id": series.site,
                "instrument_id": series.instrument,
                "proposal_id": series.proposal,
                "public_date": start + timedelta(days=365) if proprietary else start,
                "exposure_time": exposure,
                "request_id": 3000000 + seed * 100 + index * 10 + number // per_night,
                "frame_number": frame_number,
                "field": frame_field,
                "fwhm_pixels": DEMO_FWHM_PIXELS,
                "sky_level": float(rng.uniform(250.0, 350.0)),
            })
            frame_number += 1
    return plan


def demo_mover_epoch(series: DemoSeries, moment: datetime) -> datetime:
    """The epoch ``demo_frame_plan`` gave the asteroid's track for an exposure at ``moment``: the target's
    transit nearest to it (exposures of the one-night series are taken within minutes of it)."""
    longitude = SITES[series.site].longitude
    day = _as_utc(moment)
    transits = [transit_time(day=day + timedelta(days=shift), ra=series.ra, longitude=longitude)
                for shift in (-1, 0, 1)]
    return min(transits, key=lambda transit: abs((transit - day).total_seconds()))


class DemoSkyHorizons:
    """A stand-in for JPL Horizons over the demo sky (HORIZONS_PROVIDER=synthetic-demo).

    It knows one object, the demo's synthetic asteroid, and answers with positions from the same
    synthetic track the demo frames were drawn with (``mover_position``), in Horizons' table form
    and named as synthetic. Any other designation goes to ``fallback`` (the live service), or is
    refused when there is none. Real frames must never be measured with these positions.
    """

    def __init__(self, fallback=None):
        self.fallback = fallback

    def ephemeris(self, designation: str, site, jd_utc):
        from astropy.table import Table

        from data_operations.errors import OperationError

        wanted = "".join(designation.split()).upper()
        series = next((s for s in DEMO_SERIES if s.mover and "".join(s.target.split()).upper() == wanted), None)
        if series is None:
            if self.fallback is not None:
                return self.fallback.ephemeris(designation, site, jd_utc)
            raise OperationError(f"JPL Horizons could not resolve '{designation}': the demo's synthetic ephemeris "
                                 f"knows only {', '.join(s.target for s in DEMO_SERIES if s.mover)}.")
        moments = [datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=jd - 2440587.5) for jd in jd_utc]
        positions = [mover_position(series, moment, demo_mover_epoch(series, moment)) for moment in moments]
        table = Table({"targetname": [f"{series.target} (synthetic demo track)"] * len(moments),
                       "datetime_jd": np.asarray(jd_utc, dtype=float),
                       "RA": np.array([ra % 360.0 for ra, _ in positions]),
                       "DEC": np.array([dec for _, dec in positions])})
        table["datetime_jd"].unit, table["RA"].unit, table["DEC"].unit = "d", "deg", "deg"
        return table


def series_frame_side(series: DemoSeries, size: int) -> int:
    """Width and height in pixels of a series' frames in a demo set of ``size``."""
    return max(32, size // series.size_divisor)


def demo_cluster_sky(series: DemoSeries, *, size: int, seed: int) -> Table:
    """The Gaia-like truth (epoch 2016.0) of a cluster series' sky, for frames of ``size`` pixels.

    It reaches past the dithered frames (at least MIN_SKY_RADIUS_ARCMIN), and its field stars have
    the demo fields' density and magnitudes (:func:`star_field`, read as r magnitudes).
    """
    half_diagonal_pixels = (size / 2.0 + series.dither_pixels) * math.sqrt(2.0) + 5.0
    radius_arcmin = max(MIN_SKY_RADIUS_ARCMIN, half_diagonal_pixels * DEFAULT_PIXEL_SCALE_ARCSEC / 60.0)
    field = star_field(ra=series.ra, dec=series.dec, radius_deg=radius_arcmin / 60.0,
                       n_stars=field_star_count(radius_arcmin), seed=seed)
    # The members' and the field's astrometry come from a stream of their own (not the positions').
    return cluster_sky(series.cluster, ra=series.ra, dec=series.dec, radius_arcmin=radius_arcmin,
                       field_ra=field.ra, field_dec=field.dec, field_r=field.mag, seed=seed + 50_000)


def cluster_frame_fields(sky: Table, *, jyear: float) -> dict[str, StarField]:
    """Each filter's view of a cluster sky at ``jyear``: stars moved along their proper motions, with the
    magnitudes of the filter's synthetic band (so the frames' colours are the catalogue's)."""
    ra, dec = moved(sky, jyear)
    return {filter_name: StarField(ra % 360.0, dec, np.asarray(sky[f"{band}_mag"], dtype=float))
            for filter_name, band in SYNTHETIC_BAND_OF_FILTER.items()}


def demo_gaia_catalogue(*, seed: int = 1, size: int = 1024) -> Table:
    """The synthetic Gaia catalogue of the demo sky: every cluster series' truth, as :func:`demo_frame_plan`
    draws it for the same (seed, size). Not real Gaia data: the table's ``role`` says member or field."""
    skies = [demo_cluster_sky(series, size=series_frame_side(series, size), seed=seed * 100 + index)
             for index, series in enumerate(DEMO_SERIES) if series.cluster is not None]
    catalogue = vstack(skies, metadata_conflicts="silent")
    catalogue["source_id"] = np.arange(len(catalogue), dtype=np.int64) + catalogue["source_id"][0]
    return catalogue
