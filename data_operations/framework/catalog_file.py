"""A frame's science header and its ``CAT`` table read straight from the file.

A catalogue operation over hundreds of frames needs, per frame, the science header and one
binary table. astropy's ``fits.open`` builds column objects for every table and rebuilds the
image header of every tile-compressed HDU (about 30 ms a frame). Here the headers are walked as
raw 80-character cards (only the keywords that size the data are parsed), the science header is
handed to astropy once, and the table is read as one numpy record array: a few ms a frame. The
pixels are not touched: the science image is read later, when asked, by the project's frame reader.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from data_operations.errors import OperationError

BLOCK, CARD = 2880, 80
_TFORM = re.compile(r"^\s*(\d*)([LXBIJKAEDCM])")
_NUMPY_CODES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
#: Keywords of a tile-compressed image's table that do not describe the image.
_TABLE_KEYS = re.compile(r"(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|T(TYPE|FORM|UNIT|DIM|NULL|SCAL|ZERO)\d+|"
                         r"ZIMAGE|ZTILE\d+|ZCMPTYPE|ZNAME\d+|ZVAL\d+|ZQUANTIZ|ZDITHER0|ZSIMPLE|ZEXTEND|ZBLOCKED|"
                         r"ZTENSION|ZPCOUNT|ZGCOUNT|ZHECKSUM|ZDATASUM|ZBITPIX|ZNAXIS\d*|THEAP|CHECKSUM|DATASUM|END)")


@dataclass
class HeaderUnit:
    """One HDU's raw cards, the values of its simple keywords, and where its data lie."""

    cards: list[str]
    values: dict[str, str]
    data_offset: int
    data_bytes: int

    @property
    def name(self) -> str:
        if "EXTNAME" in self.values:
            return text(self.values["EXTNAME"]).upper()
        return "PRIMARY" if "SIMPLE" in self.values else ""

    @property
    def is_2d_image(self) -> bool:
        """An image HDU (plain or tile-compressed) of two non-empty axes, as the frame reader's rule."""
        kind = text(self.values.get("XTENSION", "'IMAGE'")) if "SIMPLE" not in self.values else "IMAGE"
        prefix = "Z" if kind == "BINTABLE" and self.values.get("ZIMAGE", "").strip() == "T" else ""
        if kind != "IMAGE" and not prefix:
            return False
        axes = [self.number(f"{prefix}NAXIS{axis}") for axis in range(1, int(self.number(f"{prefix}NAXIS")) + 1)]
        return len(axes) == 2 and min(axes) >= 1

    def number(self, keyword: str, default: float = 0) -> float:
        raw = self.values.get(keyword)
        return default if raw is None or raw == "" else float(raw.replace("D", "E"))


def text(raw: str) -> str:
    """A FITS string value without its quotes and trailing blanks."""
    raw = raw.strip()
    if raw.startswith("'"):
        raw = raw[1:raw.rfind("'")] if raw.count("'") >= 2 else raw[1:]
        return raw.replace("''", "'").rstrip()
    return raw


def _value_field(card: str) -> str:
    """The value part of a ``KEY = value / comment`` card (the comment dropped)."""
    field = card[10:]
    if field.lstrip().startswith("'"):
        start = field.index("'")
        position = start + 1
        while True:
            end = field.find("'", position)
            if end < 0:
                return field
            if field[end + 1:end + 2] == "'":
                position = end + 2
                continue
            return field[:end + 1]
    return field.split("/", 1)[0].strip()


def _read_unit(handle) -> HeaderUnit:
    cards: list[str] = []
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            raise EOFError("header ends before its END card")
        text_block = block.decode("ascii")
        chunk = [text_block[i:i + CARD] for i in range(0, BLOCK, CARD)]
        cards.extend(chunk)
        if any(card[:8] == "END     " for card in chunk):
            break
    cards = cards[:next(i for i, card in enumerate(cards) if card[:8] == "END     ")]
    values = {card[:8].rstrip(): _value_field(card) for card in cards if card[8:10] == "= "}
    unit = HeaderUnit(cards, values, handle.tell(), 0)
    axes = [int(unit.number(f"NAXIS{axis}")) for axis in range(1, int(unit.number("NAXIS")) + 1)]
    if axes:
        unit.data_bytes = abs(int(unit.number("BITPIX"))) // 8 * int(unit.number("GCOUNT", 1)) * (
            int(unit.number("PCOUNT")) + math.prod(axes))
    return unit


def header_units(path: Path, until: tuple[str, ...]) -> list[HeaderUnit]:
    """Headers of the file's HDUs in order, stopping once every name in ``until`` was seen."""
    size = os.path.getsize(path)
    units: list[HeaderUnit] = []
    wanted = set(until)
    with open(path, "rb") as handle:
        while handle.tell() < size and wanted:
            unit = _read_unit(handle)
            units.append(unit)
            wanted.discard(unit.name)
            handle.seek(unit.data_offset + math.ceil(unit.data_bytes / BLOCK) * BLOCK)
    return units


def image_header(unit: HeaderUnit) -> tuple[fits.Header, tuple[int, int]]:
    """The science image's header and (ny, nx); a tile-compressed image's header is rebuilt from its table."""
    compressed = unit.values.get("ZIMAGE", "").strip() == "T"
    prefix = "Z" if compressed else ""
    axes = [int(unit.number(f"{prefix}NAXIS{axis}")) for axis in range(1, int(unit.number(f"{prefix}NAXIS")) + 1)]
    if len(axes) != 2 or min(axes) < 1:
        raise ValueError("not a 2-D image")
    structure = [f"{'XTENSION':8}= 'IMAGE   '", f"{'BITPIX':8}= {int(unit.number(prefix + 'BITPIX')):>20}",
                 f"{'NAXIS':8}= {2:>20}", f"{'NAXIS1':8}= {axes[0]:>20}", f"{'NAXIS2':8}= {axes[1]:>20}",
                 f"{'PCOUNT':8}= {0:>20}", f"{'GCOUNT':8}= {1:>20}"]
    kept = [card for card in unit.cards if not _TABLE_KEYS.fullmatch(card[:8].rstrip())]
    cards = "".join(card.ljust(CARD) for card in structure + kept) + "END".ljust(CARD)
    return fits.Header.fromstring(cards), (axes[1], axes[0])


def table_columns(path: Path, unit: HeaderUnit) -> dict[str, np.ndarray]:
    """A binary table's columns as native-endian numpy arrays (scalar and string columns)."""
    if text(unit.values.get("XTENSION", "")) != "BINTABLE":
        raise TypeError("not a binary table")
    rows, width = int(unit.number("NAXIS2")), int(unit.number("NAXIS1"))
    fields, scaling = [], []
    for index in range(1, int(unit.number("TFIELDS")) + 1):
        match = _TFORM.match(text(unit.values[f"TFORM{index}"]))
        if match is None:
            raise ValueError("unknown column format")
        repeat, code = int(match.group(1) or 1), match.group(2)
        if code == "A":
            dtype = f"S{repeat}"
        elif code in _NUMPY_CODES:
            dtype = _NUMPY_CODES[code] if repeat == 1 else (_NUMPY_CODES[code], (repeat,))
        else:
            raise ValueError(f"column format {code} is not supported here")
        fields.append((text(unit.values.get(f"TTYPE{index}", f"'col{index}'")), dtype))
        scaling.append((unit.number(f"TSCAL{index}", 1), unit.number(f"TZERO{index}", 0)))
    dtype = np.dtype(fields)
    if dtype.itemsize != width:
        raise ValueError("column formats do not add up to the row width")
    with open(path, "rb") as handle:
        handle.seek(unit.data_offset)
        records = np.fromfile(handle, dtype=dtype, count=rows)
    if records.size != rows:
        raise ValueError("table data is truncated")
    columns = {}
    for name, (scale, zero) in zip(dtype.names, scaling, strict=True):
        values = records[name]
        if values.dtype.kind == "S":
            columns[name] = np.char.rstrip(values.astype(str))
            continue
        columns[name] = values.astype(values.dtype.newbyteorder("="))
        if scale != 1 or zero != 0:
            columns[name] = columns[name] * scale + zero
    return columns


def read_frame_catalog(path: Path, basename: str, catalog_name: str,
                       science_name: str = "SCI") -> tuple[fits.Header, tuple[int, int], dict[str, np.ndarray] | None]:
    """(science header, (ny, nx), catalogue columns or None) of one frame; OperationError when unreadable."""
    unreadable = f"Frame {basename} is not a readable FITS file (truncated or corrupt)."
    try:
        units = header_units(Path(path), (science_name, catalog_name))
    except (OSError, ValueError, TypeError, EOFError, KeyError, UnicodeDecodeError, StopIteration) as error:
        raise OperationError(unreadable) from error
    by_name = {unit.name: unit for unit in units}
    # The frame reader's rule: the HDU named SCI, else the first 2-D image.
    science = by_name.get(science_name) or next((unit for unit in units if unit.is_2d_image), None)
    if science is None:
        raise OperationError(f"Frame {basename} has no 2-D image data.")
    try:
        header, shape = image_header(science)
    except (ValueError, KeyError, TypeError) as error:
        raise OperationError(f"Frame {basename} has no 2-D image data.") from error
    if os.path.getsize(path) < science.data_offset + science.data_bytes:
        raise OperationError(unreadable)
    catalog = None
    if catalog_name in by_name:
        try:
            catalog = table_columns(Path(path), by_name[catalog_name])
        except TypeError as error:
            raise OperationError(f"Frame {basename} has a {catalog_name} extension that is not a table.") from error
        except (OSError, ValueError, KeyError) as error:
            raise OperationError(f"Frame {basename} has an unreadable {catalog_name} table.") from error
    return header, shape, catalog
