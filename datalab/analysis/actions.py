"""The analysis actions: each reads its body, asks the frame's cached products and answers JSON.

Coordinates in bodies are display pixels (see data_operations.analysis.geometry); radii for
``centroiding`` are FITS pixels. Every answer is JSON-clean: non-finite numbers become None.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.request import Request

from data_operations.analysis import imaging
from data_operations.analysis.centroid import recentre
from data_operations.analysis.geometry import DisplayGeometry
from data_operations.analysis.profile import line_length, sample_line
from data_operations.analysis.sky import separation_and_angle, sky_position
from data_operations.errors import InputValidationError
from datalab.analysis.products import FrameProducts
from datalab.analysis.validation import RequestBody
from datalab.datalab_session.models import OutputFile
from datalab.datalab_session.outputs import output_urls, public_url, sign_output

MAX_RAW_DATA_SIZE = 2048
# Display sizes and positions are screen pixels: anything beyond this is hostile (1e308 overflowed).
MAX_DISPLAY_SIZE = 1_000_000.0
MAX_BACKGROUND_RADIUS = 500.0  # FITS pixels; keeps a centroiding stamp small
TIF_SIGNATURE_KIND = "analysis-tif"  # not an output kind, so output URLs cannot be forged from it


@dataclass
class ActionRequest:
    """What an action may use: the body, the frame's products, the output record, the HTTP request."""

    body: RequestBody
    frame: FrameProducts
    output: OutputFile | None
    request: Request


def _geometry(call: ActionRequest) -> DisplayGeometry:
    rows, columns = call.frame.shape
    width = call.body.number("width", positive=True, maximum=MAX_DISPLAY_SIZE)
    height = call.body.number("height", positive=True, maximum=MAX_DISPLAY_SIZE)
    return DisplayGeometry(width=width, height=height, columns=columns, rows=rows)


def _position(body, key: str) -> float:
    """A display coordinate (screen pixels), bounded so arithmetic on it cannot overflow."""
    return body.number(key, maximum=MAX_DISPLAY_SIZE)


def _pair(values: tuple[float, float] | None) -> list[float] | None:
    return [values[0], values[1]] if values is not None else None


# --- actions -----------------------------------------------------------------------------------
def raw_data(call: ActionRequest) -> bytes:
    """A ``max_size`` square area-averaged image (top row first), histogram, zscale limits, bit depth;
    ``max_size`` is capped at the frame's larger dimension.

    ``data`` values are in the frame's units, rounded to float32 precision (7 significant digits
    at the frame's largest magnitude); ``bitdepth`` is the smallest of 8/16/32 that holds the
    frame's maximum. The encoded answer is cached per frame and size.
    """
    max_size = call.body.whole_number("max_size", minimum=1, maximum=MAX_RAW_DATA_SIZE)
    # Never larger than the frame: upscaling adds no information, only bytes and cache entries.
    return call.frame.raw_data_json(min(max_size, max(call.frame.shape)))


def wcs(call: ActionRequest) -> dict[str, Any]:
    summary = call.frame.header_info["wcs"]
    if summary is None:
        raise InputValidationError(f"Frame {call.frame.label} has no celestial WCS in its header.")
    return summary


def headers(call: ActionRequest) -> dict[str, Any]:
    """The SCI header as ``{"data": {keyword: value}}``, the shape of the archive's headers endpoint."""
    return {"data": call.frame.header_info["header"]}


def line_profile(call: ActionRequest) -> dict[str, Any]:
    """Values along the line; ``x`` coordinates are vertical (up from the bottom), ``y`` horizontal.

    ``arcsec`` comes from the WCS, else from ``PIXSCALE`` times the length in pixels, else None;
    ``position_angle`` is degrees east of north from start to end (None without a WCS).
    """
    geometry = _geometry(call)
    body = call.body
    points = [(_position(body, f"y{index}"), _position(body, f"x{index}")) for index in (1, 2)]
    for index, (horizontal, vertical) in enumerate(points, start=1):
        geometry.require_inside(horizontal, vertical, action=body.action, names=f"(x{index}, y{index})")
    start, end = (geometry.to_pixel(*point) for point in points)
    values = sample_line(call.frame.pixels, start, end)
    start_sky = sky_position(call.frame.wcs, *start)
    end_sky = sky_position(call.frame.wcs, *end)
    position_angle = None
    if start_sky is not None and end_sky is not None:
        arcsec, position_angle = separation_and_angle(start_sky, end_sky)
    elif (scale := call.frame.pixel_scale_arcsec()) is not None:
        arcsec = line_length(start, end) * scale
    else:
        arcsec = None
    return {
        "line_profile": imaging.finite_list(values),
        "arcsec": arcsec,
        "start_coords": _pair(start_sky),
        "end_coords": _pair(end_sky),
        "position_angle": position_angle,
    }


def source_catalog(call: ActionRequest) -> list[dict[str, Any]]:
    """Sources in display pixels, brightest first (at most 1000).

    ``flux_fallback`` is true when the source has no calibrated ``mag``: the client should then
    compare ``flux`` (instrumental counts) instead.
    """
    geometry = _geometry(call)
    answer = []
    for source in call.frame.catalog:
        horizontal, vertical = geometry.to_display(source["x"] - 1.0, source["y"] - 1.0)
        answer.append({
            "x_win": horizontal, "y_win": vertical, "flux": source["flux"],
            "ra": source["ra"], "dec": source["dec"], "mag": source["mag"],
            "flux_fallback": source["mag"] is None,
        })
    return answer


def centroiding(call: ActionRequest) -> dict[str, Any]:
    """The star nearest the click: display ``x``/``y``, ``ra``/``dec``, per-pixel ``background``, ``peak``."""
    geometry = _geometry(call)
    body = call.body
    horizontal, vertical = _position(body, "x"), _position(body, "y")
    geometry.require_inside(horizontal, vertical, action=body.action, names="(x, y)")
    radius = body.number("radius", default=10.0, positive=True)
    inner = body.number("r_back1", default=radius + 5.0, positive=True)
    outer = body.number("r_back2", default=inner + 10.0, positive=True)
    if not radius <= inner < outer <= MAX_BACKGROUND_RADIUS:
        raise InputValidationError(
            f"{body.action}: radii must satisfy radius <= r_back1 < r_back2 <= {MAX_BACKGROUND_RADIUS:g}; "
            f"got {radius:g}, {inner:g}, {outer:g}."
        )
    column, row = geometry.to_pixel(horizontal, vertical)
    result = recentre(
        call.frame.pixels, column=column, row=row, radius=radius, inner=inner, outer=outer,
        find_centroid=body.flag("find_centroid", default=True),
        reject_stars=body.flag("remove_background_stars", default=False),
        plane_background=body.flag("use_plane_background", default=False),
    )
    if not result.success:
        return {"success": False, "error": result.message, "message": result.message}
    x, y = geometry.to_display(result.column, result.row)
    sky = sky_position(call.frame.wcs, result.column, result.row)
    return {
        "success": True, "x": x, "y": y,
        "ra": sky[0] if sky else None, "dec": sky[1] if sky else None,
        "background": result.background, "peak": result.peak,
    }


def get_jpg(call: ActionRequest) -> dict[str, Any]:
    """The whole frame at full resolution as a base64 JPEG, stretched linearly from zmin to zmax."""
    zmin, zmax = call.body.number("zmin"), call.body.number("zmax")
    if not zmax > zmin:
        raise InputValidationError(f"{call.body.action}: 'zmax' must be greater than 'zmin'.")
    encoded = imaging.jpeg_bytes(call.frame.pixels, zmin, zmax)
    return {"jpg_base64": base64.b64encode(encoded).decode("ascii")}


def get_tif(call: ActionRequest) -> dict[str, Any]:
    """A signed URL of a float32 TIFF of the frame, made once and kept in storage."""
    if call.output is not None and call.output.tif_name:
        return {"tif_url": output_urls(call.output)["tif_url"]}
    name = tif_storage_name(call.frame.key)
    if not default_storage.exists(name):
        with call.frame.cache.key_lock(f"{call.frame.key}.tif"):
            if not default_storage.exists(name):
                temporary = call.frame.cache.temporary_path(f"{call.frame.key}.tif")
                try:
                    imaging.write_float_tiff(call.frame.pixels, temporary)
                    with open(temporary, "rb") as handle:
                        default_storage.save(name, handle)
                finally:
                    temporary.unlink(missing_ok=True)
    return {"tif_url": tif_url(call.frame.key, request=call.request)}


ANALYSIS_PRODUCTS_FOLDER = "analysis"


def tif_storage_name(key: str) -> str:
    return f"{ANALYSIS_PRODUCTS_FOLDER}/{key}.tif"


def tif_url(key: str, *, request: Request) -> str:
    """A URL that works without the token for at least OUTPUT_URL_TTL_SECONDS, the same on every call."""
    return public_url(f"{reverse('analysis-tif', kwargs={'id': key})}?sig={sign_output(key, TIF_SIGNATURE_KIND)}")


ACTIONS: dict[str, Callable[[ActionRequest], Any]] = {
    "raw-data": raw_data,
    "wcs": wcs,
    "headers": headers,
    "line-profile": line_profile,
    "source-catalog": source_catalog,
    "centroiding": centroiding,
    "get-jpg": get_jpg,
    "get-tif": get_tif,
}
