"""The Gaia archive's TAP service under a hard deadline.

pyvo talks to the service through a ``requests`` session whose adapter gives every request a
connect and read timeout no longer than what is left of the query's deadline, so an archive that
accepts a connection and never answers costs at most the deadline, never a worker. A server that
trickles bytes (each read within its timeout) is cut off too: each attempt runs in a helper thread
that the caller stops waiting for at the deadline. The query runs as an asynchronous job
(synchronous queries are capped at a few thousand rows), polled by this module rather than pyvo's
own wait loop, whose back-off would sleep past the deadline. One retry after a short back-off is
made when the deadline leaves room for it.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitTimeout

import requests
from astropy.table import Table
from requests.adapters import HTTPAdapter

from data_operations.photometry.gaia.provider import GAIA_COLUMNS, GAIA_RELEASE, ConeQuery, GaiaUnavailable

DEFAULT_TAP_URL = "https://gea.esac.esa.int/tap-server/tap"
CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, QUERY_TIMEOUT_SECONDS = 10.0, 60.0, 120.0
RETRY_BACKOFF_SECONDS = 2.0
POLL_SECONDS = (0.5, 1.0, 2.0, 4.0)
MAX_ROWS = 200_000
_RUNNING = {"PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED", "UNKNOWN"}

SOURCE_COLUMNS = ("source_id", "ra", "dec", "pmra", "pmra_error", "pmdec", "pmdec_error", "parallax",
                  "parallax_error", "phot_g_mean_mag", "ruwe")
DISTANCE_COLUMNS = ("r_med_geo", "r_lo_geo", "r_hi_geo")


def cone_adql(query: ConeQuery, ruwe_limit: float = 1.4) -> str:
    """DR3 sources in the cone with Bailer-Jones geometric distances and SDSS-system synthetic photometry."""
    synthetic = [name for name in GAIA_COLUMNS if name not in SOURCE_COLUMNS + DISTANCE_COLUMNS]
    columns = ([f"g.{name}" for name in SOURCE_COLUMNS] + [f"d.{name}" for name in DISTANCE_COLUMNS]
               + [f"s.{name}" for name in synthetic])
    return (f"SELECT {', '.join(columns)} FROM gaiadr3.gaia_source AS g "
            "LEFT OUTER JOIN external.gaiaedr3_distance AS d ON d.source_id = g.source_id "
            "LEFT OUTER JOIN gaiadr3.synthetic_photometry_gspc AS s ON s.source_id = g.source_id "
            f"WHERE 1 = CONTAINS(POINT('ICRS', g.ra, g.dec), CIRCLE('ICRS', {query.ra:.6f}, {query.dec:.6f}, "
            f"{query.radius_arcmin / 60.0:.6f})) AND g.ruwe < {ruwe_limit}")


class DeadlineAdapter(HTTPAdapter):
    """Gives each request (connect, read) timeouts capped by the time left before ``deadline``."""

    def __init__(self, deadline: float, connect: float, read: float):
        super().__init__(max_retries=0)
        self.deadline, self.connect, self.read = deadline, connect, read

    def send(self, request, **kwargs):  # noqa: ANN001 - requests' own signature
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise requests.exceptions.Timeout("the query's deadline passed")
        kwargs["timeout"] = (min(self.connect, remaining), min(self.read, remaining))
        return super().send(request, **kwargs)


def timed_session(deadline: float, connect: float, read: float) -> requests.Session:
    session = requests.Session()
    adapter = DeadlineAdapter(deadline, connect, read)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class TapGaiaProvider:
    """Cones from a TAP service (the ESA Gaia archive by default), each within ``timeout_seconds``."""

    release = GAIA_RELEASE

    def __init__(self, url: str = DEFAULT_TAP_URL, *, timeout_seconds: float = QUERY_TIMEOUT_SECONDS,
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS):
        self.url = url
        self.timeout_seconds = min(float(timeout_seconds), QUERY_TIMEOUT_SECONDS)
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout

    def cone(self, query: ConeQuery) -> Table:
        deadline = time.monotonic() + self.timeout_seconds
        reason = "no answer"
        for attempt in range(2):
            try:
                return self._attempt(query, deadline)
            except GaiaUnavailable:
                raise
            except Exception as error:  # noqa: BLE001 - requests, pyvo and VOTable parsing all mean "unavailable"
                reason = _reason(error)
            if attempt == 0 and deadline - time.monotonic() > 2 * RETRY_BACKOFF_SECONDS:
                time.sleep(RETRY_BACKOFF_SECONDS)
                continue
            break
        raise GaiaUnavailable(reason)

    def _attempt(self, query: ConeQuery, deadline: float) -> Table:
        """One query, abandoned at the deadline (its thread ends at its own next timeout)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gaia-tap")
        try:
            return executor.submit(self._run, query, deadline).result(timeout=max(deadline - time.monotonic(), 0))
        except WaitTimeout as error:
            raise TimeoutError(f"the query did not finish within {self.timeout_seconds:g} s") from error
        finally:
            executor.shutdown(wait=False)

    def _run(self, query: ConeQuery, deadline: float) -> Table:
        from pyvo.dal import TAPService  # pyvo's import is quick and offline; kept here so tests never need it

        session = timed_session(deadline, self.connect_timeout, self.read_timeout)
        with session:
            service = TAPService(self.url, session=session)
            job = service.submit_job(cone_adql(query), maxrec=MAX_ROWS)
            job.run()
            polls = 0
            while (phase := job.phase) in _RUNNING:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the query did not finish within {self.timeout_seconds:g} s")
                time.sleep(min(POLL_SECONDS[min(polls, len(POLL_SECONDS) - 1)], remaining))
                polls += 1
            if phase != "COMPLETED":
                raise RuntimeError(f"the query ended in phase {phase}")
            table = job.fetch_result().to_table()
            try:
                job.delete()
            except Exception:  # noqa: BLE001,S110 - the archive expires jobs anyway
                pass
        return table


def _reason(error: Exception) -> str:
    """A short reason for the user; pyvo wraps the requests error it met in ``cause``."""
    causes = [error, getattr(error, "cause", None), error.__cause__, error.__context__]
    if any(isinstance(cause, (requests.exceptions.Timeout, TimeoutError)) for cause in causes):
        return "no answer in time"
    if any(isinstance(cause, requests.exceptions.ConnectionError) for cause in causes):
        return "cannot connect"
    return "the archive answered with an error"
