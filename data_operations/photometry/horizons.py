"""JPL Horizons ephemerides: a moving target's position at each frame, from its designation.

A provider answers one question: the astrometric (ICRF) RA/Dec of a designated body at given UTC
Julian dates, seen from a site. Every provider returns the table as ``astroquery.jplhorizons``
gives it (``targetname``, ``datetime_jd``, ``RA``, ``DEC`` in degrees, ...), and one parser,
:func:`positions_from_answer`, reads it for all of them: the live service (astroquery, imported
only when a query is made, under a hard deadline and behind a cache) and a stored answer for tests.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from astropy.table import Table, vstack

from data_operations.errors import OperationError
from data_operations.photometry.frame_facts import Site, frame_facts
from data_operations.photometry.track import TrackSample

#: Epochs per request: the epoch list travels in the URL, which Horizons limits.
EPOCHS_PER_REQUEST = 40
#: An answer's epoch and a frame's time agree within this (days, ~0.01 s).
EPOCH_TOLERANCE_DAYS = 1e-7
CACHE_SECONDS = 30 * 86400
ANSWER_COLUMNS = ("datetime_jd", "RA", "DEC")


class HorizonsProvider(Protocol):
    def ephemeris(self, designation: str, site: Site | None, jd_utc: Sequence[float]) -> Table:
        """Horizons' answer for ``designation`` at ``jd_utc`` (UTC JD) from ``site`` (geocentric when None)."""


class AnswerCache(Protocol):
    """Where answers are kept between runs (the service's cache: ``get`` and ``set`` with a timeout)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: int | None = None) -> None: ...


def positions_from_answer(answer: Table, designation: str, jd_utc: Sequence[float]) -> list[TrackSample]:
    """The target's position at each of ``jd_utc`` (as UTC MJD samples), from a Horizons answer table."""
    lacking = [name for name in ANSWER_COLUMNS if name not in answer.colnames]
    if lacking:
        raise OperationError(f"JPL Horizons answered for '{designation}' without the {', '.join(lacking)} "
                             "column(s); the target's positions are unknown.")
    epochs = np.asarray(answer["datetime_jd"], dtype=float)
    ra, dec = np.asarray(answer["RA"], dtype=float), np.asarray(answer["DEC"], dtype=float)
    samples = []
    for jd in jd_utc:
        match = np.flatnonzero(np.abs(epochs - jd) <= EPOCH_TOLERANCE_DAYS)
        if match.size == 0 or not (np.isfinite(ra[match[0]]) and np.isfinite(dec[match[0]])):
            raise OperationError(f"JPL Horizons gave no position of '{designation}' at JD {jd:.6f} (UTC), the "
                                 "middle of one of the frames.")
        samples.append(TrackSample(float(jd) - 2400000.5, float(ra[match[0]]) % 360.0, float(dec[match[0]])))
    return samples


class TimedFrameLike(Protocol):
    basename: str
    header: Any


def look_up(provider: HorizonsProvider, designation: str, frames: Sequence[TimedFrameLike]) -> list[TrackSample]:
    """``designation``'s position at every frame's mid-exposure, asked once per observing site, in time order.

    Frames without a usable time are passed over (the photometry excludes them with the reason).
    """
    by_site: dict[Site | None, list[float]] = {}
    for frame in frames:
        try:
            facts = frame_facts(frame.header, frame.basename)
        except OperationError:
            continue
        by_site.setdefault(facts.site, []).append(facts.mid_mjd + 2400000.5)
    if not by_site:
        raise OperationError("No input frame has a usable DATE-OBS or MJD-OBS, so the target's positions cannot be "
                             "looked up.")
    samples = []
    for site, jds in by_site.items():
        epochs = sorted(set(jds))
        samples += positions_from_answer(provider.ephemeris(designation, site, epochs), designation, epochs)
    return sorted({sample.mjd: sample for sample in samples}.values(), key=lambda sample: sample.mjd)


def _location(site: Site | None) -> Any:
    """Horizons' observer: the site's geodetic position, or the geocentre."""
    if site is None:
        return "500@399"
    import astropy.units as u

    return {"lon": site.longitude * u.deg, "lat": site.latitude * u.deg, "elevation": site.height / 1000.0 * u.km,
            "body": 399}


def cache_key(designation: str, site: Site | None, jd_utc: Sequence[float]) -> str:
    epochs = ",".join(f"{jd:.7f}" for jd in jd_utc)
    where = "geocentre" if site is None else f"{site.longitude:.5f},{site.latitude:.5f},{site.height:.1f}"
    digest = hashlib.sha256(f"{designation.strip().upper()}|{where}|{epochs}".encode()).hexdigest()[:32]
    return f"horizons:v1:{digest}"


class LiveHorizons:
    """The JPL Horizons service through ``astroquery.jplhorizons``, with a hard deadline and a cache.

    The whole look-up (every request of a long epoch list) must finish within ``timeout_seconds``;
    each request's socket timeout is the same, so a silent server never holds a worker longer.
    Failures are never cached.
    """

    def __init__(self, *, timeout_seconds: float, url: str | None = None, cache: AnswerCache | None = None):
        self.timeout_seconds = float(timeout_seconds)
        self.url = url
        self.cache = cache

    def ephemeris(self, designation: str, site: Site | None, jd_utc: Sequence[float]) -> Table:
        key = cache_key(designation, site, jd_utc)
        if self.cache is not None:
            kept = self.cache.get(key)
            if kept:
                return Table.read(kept.splitlines(), format="ascii.ecsv")
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="horizons")
        future = pool.submit(self._query, designation, site, list(jd_utc))
        try:
            answer = future.result(timeout=self.timeout_seconds)
        except concurrent.futures.TimeoutError:
            raise OperationError(self.unreachable(designation)) from None
        except ValueError as error:  # astroquery's answer to an unknown or ambiguous designation
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else "no match"
            raise OperationError(f"JPL Horizons could not resolve '{designation}': {first_line}") from None
        except Exception as error:  # noqa: BLE001 - any transport failure means "Horizons is unavailable"
            if "timed out" in str(error).lower() or "timeout" in type(error).__name__.lower():
                raise OperationError(self.unreachable(designation)) from None
            raise OperationError(f"JPL Horizons could not be reached for '{designation}' ({type(error).__name__}). "
                                 "Retry later, or give the target's positions (target_positions).") from None
        finally:
            pool.shutdown(wait=False)
        if self.cache is not None:
            text = io.StringIO()
            answer.write(text, format="ascii.ecsv")
            self.cache.set(key, text.getvalue(), CACHE_SECONDS)
        return answer

    def unreachable(self, designation: str) -> str:
        return (f"JPL Horizons did not answer within {self.timeout_seconds:g} s, so the positions of "
                f"'{designation}' are unknown. Retry later, or give the target's positions (target_positions).")

    def _query(self, designation: str, site: Site | None, jd_utc: list[float]) -> Table:
        """astroquery builds each request and parses each answer; the request goes to ``self.url``.

        astroquery's own configuration accepts only its listed servers, so the request is sent with
        its ``_request`` to the configured URL and read with the ``_parse_result`` its ``ephemerides``
        uses.
        """
        from astroquery.jplhorizons import Horizons, conf

        url = self.url or conf.horizons_server
        parts = []
        for first in range(0, len(jd_utc), EPOCHS_PER_REQUEST):
            query = Horizons(id=designation, id_type="smallbody", location=_location(site),
                             epochs=jd_utc[first:first + EPOCHS_PER_REQUEST])
            payload = query.ephemerides_async(quantities="1", extra_precision=True, get_query_payload=True)
            response = query._request("GET", url, params=payload, timeout=self.timeout_seconds, cache=False)
            parts.append(Table(query._parse_result(response)))
        return vstack(parts) if len(parts) > 1 else parts[0]


class StoredHorizons:
    """Recorded Horizons answers (ECSV files in astroquery's table form), for tests and offline demos.

    ``answers`` maps a designation (compared case-insensitively, spaces ignored) to its file.
    """

    def __init__(self, answers: dict[str, Path]):
        self.answers = {self._normal(name): Path(path) for name, path in answers.items()}

    @staticmethod
    def _normal(designation: str) -> str:
        return "".join(designation.split()).upper()

    def ephemeris(self, designation: str, site: Site | None, jd_utc: Sequence[float]) -> Table:
        path = self.answers.get(self._normal(designation))
        if path is None:
            raise OperationError(f"JPL Horizons could not resolve '{designation}': no recorded answer for it.")
        return Table.read(path, format="ascii.ecsv")
