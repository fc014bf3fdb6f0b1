"""Realistic synthetic LCO-like frames for development, tests and benchmarks.

Pure numpy/astropy (no Django), so benchmark suites can import it directly. A frame has an empty
primary HDU, a Rice-compressed float32 ``SCI`` image with a TAN WCS and LCO-style header keywords,
and a ``CAT`` table listing the injected stars, so that operations which align, stack or measure
frames have ground truth to be checked against.
"""
from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from astropy.coordinates import Angle
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
DEFAULT_PIXEL_SCALE_ARCSEC = 0.389
SUBTRACTIVE_DITHER_1 = 1  # the FITS tiled-image convention's ZQUANTIZ code, fpack's default
DEFAULT_OBSERVATION_DATE = datetime(2026, 11, 1, 3, 12, 45, tzinfo=timezone.utc)

_vector_erf = np.frompyfunc(math.erf, 1, 1)


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
) -> fits.HDUList:
    """A realistic reduced frame, deterministic for ``seed`` and the other arguments.

    ``public_date`` defaults to one year after ``observation_date`` (LCO's proprietary period).
    Star positions in ``CAT`` are 1-based and exact; ``ra``/``dec`` come from the frame's WCS.
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

    # Sky: a level of a few hundred ADU with a gentle linear gradient across the chip.
    sky_level = float(sky_level if sky_level is not None else rng.uniform(150.0, 900.0))
    gradient_x, gradient_y = rng.uniform(-0.05, 0.05, size=2)
    columns = np.linspace(-0.5, 0.5, nx, dtype=np.float32)[None, :]
    rows = np.linspace(-0.5, 0.5, ny, dtype=np.float32)[:, None]
    sky = sky_level * (1.0 + np.float32(gradient_x) * columns + np.float32(gradient_y) * rows)
    image = np.ascontiguousarray(sky, dtype=np.float32)

    # Stars: uniform positions, power-law fluxes (many faint, few bright), 0-based pixels.
    margin = 3.0
    star_x = rng.uniform(margin, nx - 1 - margin, size=n_stars)
    star_y = rng.uniform(margin, ny - 1 - margin, size=n_stars)
    star_flux = np.minimum(2000.0 * rng.uniform(0.0, 1.0, size=n_stars) ** (-1.0 / 1.2), 5.0e6)
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
    zero_point = 23.5 + 2.5 * math.log10(exposure_time)
    star_ra, star_dec = wcs.all_pix2world(star_x + 1.0, star_y + 1.0, 1)
    catalog = {
        "x": star_x + 1.0, "y": star_y + 1.0, "xwin": star_x + 1.0, "ywin": star_y + 1.0,
        "flux": star_flux, "fluxerr": flux_error, "peak": peak,
        "flag": np.where(peak + sky_level >= saturate, 4, 0).astype(np.int16),
        "ra": star_ra, "dec": star_dec,
        "mag": zero_point - 2.5 * np.log10(star_flux), "magerr": 1.0857 * flux_error / star_flux,
    }

    header = fits.Header()
    header.update(wcs.to_header())
    for key in ("CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2"):
        header.remove(key, ignore_missing=True)
    for axis in (1, 2):
        for column in (1, 2):
            header[f"CD{axis}_{column}"] = float(wcs.wcs.cd[axis - 1, column - 1])
    observation_time = Time(observation_date)
    header.update({
        "ORIGNAME": basename[:-3] + "e00" if basename.endswith("e91") else basename,
        "OBJECT": target_name,
        "FILTER": filter_name,
        "DATE-OBS": _fits_time(observation_date),
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
        "RA": Angle(ra, unit="deg").to_string(unit="hourangle", sep=":", precision=3),
        "DEC": Angle(dec, unit="deg").to_string(unit="deg", sep=":", precision=2, alwayssign=True),
        "PIXSCALE": float(pixel_scale_arcsec),
        "GAIN": float(gain),
        "RDNOISE": float(read_noise),
        "SATURATE": float(saturate),
        "L1FWHM": round(fwhm_pixels * pixel_scale_arcsec, 3),
        "L1MEAN": round(sky_level, 3),
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


# --- a demo set --------------------------------------------------------------------------------
DEMO_TARGETS = (
    # name, ra, dec, site, instrument, proposal, proprietary
    ("M51", 202.4696, 47.1952, "elp", "fa05", "LCOEPO2026B-001", False),
    ("NGC 2808", 138.0129, -64.8635, "coj", "fa12", "LCO2026B-012", True),
    ("M4", 245.8968, -26.5257, "lsc", "fa15", "LCOEPO2026B-001", False),
)
DEMO_FILTERS = ("rp", "gp", "B")


def demo_frame_plan(*, count: int = 12, seed: int = 1, size: int = 1024) -> list[dict]:
    """Keyword arguments for :func:`make_frame` of a small, realistic, deterministic demo set.

    Frames cycle through a few targets and the rp/gp/B filters with arcsecond pointing offsets.
    The ``LCOEPO`` proposal's frames are public on arrival; the other proposal's stay proprietary
    for a year after the observation.
    """
    rng = np.random.default_rng(seed)
    per_target = max(1, math.ceil(count / len(DEMO_TARGETS)))
    plan = []
    for index in range(count):
        name, ra, dec, site, instrument, proposal, proprietary = DEMO_TARGETS[
            (index // per_target) % len(DEMO_TARGETS)
        ]
        exposure_in_target = index % per_target
        filter_name = DEMO_FILTERS[exposure_in_target % len(DEMO_FILTERS)]
        observed = DEFAULT_OBSERVATION_DATE + timedelta(
            days=(index // per_target), minutes=3 * exposure_in_target
        )
        offset_ra, offset_dec = rng.uniform(-15.0, 15.0, size=2) / 3600.0
        plan.append({
            "shape": (size, size),
            "seed": seed * 1000 + index,
            "filter_name": filter_name,
            "target_name": name,
            "ra": ra + offset_ra / max(math.cos(math.radians(dec)), 1e-6),
            "dec": dec + offset_dec,
            "observation_date": observed,
            "site_id": site,
            "instrument_id": instrument,
            "proposal_id": proposal,
            "public_date": observed + timedelta(days=365) if proprietary else observed,
            "exposure_time": {"rp": 60.0, "gp": 90.0, "B": 120.0}[filter_name],
            "request_id": 3000000 + seed * 100 + index // per_target,
            "frame_number": 40 + index,
        })
    return plan
