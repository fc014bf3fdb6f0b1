"""What the service and the archive describe: frames, output files and operation descriptions.

Each keeps the whole JSON it came from in ``raw``, so nothing the service sends is lost, and can
turn itself into the input item a session or an operation takes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datalab.client.transport import Transport

FITS_EXTENSIONS = (".fits.fz", ".fits.gz", ".fits", ".fz")
# Where each downloadable product of an output goes, by kind: its URL field and file name suffix.
OUTPUT_KINDS = {"fits": ("fits_url", ".fits"), "large": ("large_url", "-large.jpg"),
                "small": ("small_url", "-small.jpg"), "tif": ("tif_url", ".tif")}


def basename_of(name: str) -> str:
    """``ogg2m001-...-e91`` from a file name or path such as ``frames/ogg2m001-...-e91.fits.fz``."""
    name = name.strip().rsplit("/", 1)[-1]
    for extension in FITS_EXTENSIONS:
        if name.lower().endswith(extension):
            return name[: -len(extension)]
    return name


def archive_item(basename: str) -> dict[str, Any]:
    """The smallest input item naming an archive frame; the service fetches it by basename."""
    return {"type": "fits", "source": "archive", "basename": basename_of(basename)}


@dataclass
class Frame:
    """One frame of the archive's frames API (see the archive's list response)."""

    id: int | None
    basename: str
    filter: str | None = None
    target_name: str | None = None
    observation_date: str | None = None
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Frame:
        return cls(id=record.get("id"), basename=record["basename"],
                   filter=record.get("primary_optical_element") or record.get("filter"),
                   target_name=record.get("target_name"), observation_date=record.get("observation_date"),
                   url=record.get("url"), raw=dict(record))

    def as_input(self) -> dict[str, Any]:
        """The item the web front end stores for an archive frame (without its short-lived URL)."""
        item = archive_item(self.basename)
        extra = {"id": self.id, "filter": self.filter, "target_name": self.target_name,
                 "observation_date": self.observation_date}
        item.update({key: value for key, value in extra.items() if value is not None})
        return item


@dataclass
class Output:
    """One entry of a finished operation's ``output_files``: a FITS image and/or previews."""

    basename: str
    type: str
    operation_id: int | None
    fits_url: str | None = None
    large_url: str | None = None
    small_url: str | None = None
    tif_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    _transport: Transport | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any], operation_id: int | None, transport: Transport | None) -> Output:
        return cls(basename=entry["basename"], type=entry.get("type", "fits"),
                   operation_id=entry.get("operation", operation_id),
                   fits_url=entry.get("fits_url"), large_url=entry.get("large_url"),
                   small_url=entry.get("small_url"), tif_url=entry.get("tif_url"),
                   raw=dict(entry), _transport=transport)

    def as_input(self) -> dict[str, Any]:
        """The item that feeds this output into a later operation (its dependency is ``operation``)."""
        item = {key: value for key, value in self.raw.items() if not key.endswith("_url")}
        item.update({"source": "datalab", "basename": self.basename, "type": self.type})
        if self.operation_id is not None:
            item["operation"] = self.operation_id
        return item

    def download(self, directory: str | Path = ".", kind: str = "fits") -> Path:
        """Save one product (``fits``, ``large``, ``small`` or ``tif``) into ``directory``; returns its path.

        The file is named after the output's basename (``<basename>.fits``, ``<basename>-large.jpg``)
        and appears only once it has arrived whole.
        """
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(OUTPUT_KINDS)}, not {kind!r}.")
        url_field, suffix = OUTPUT_KINDS[kind]
        url = getattr(self, url_field)
        if not url:
            raise ValueError(f"Output {self.basename} has no {kind} product.")
        if self._transport is None:
            raise RuntimeError("This output was not read through a Datalab client, so it cannot download.")
        return self._transport.download(url, Path(directory) / f"{self.basename}{suffix}")


@dataclass
class OperationSpec:
    """An operation the service offers, from ``available_operations``: its name and its inputs."""

    name: str
    description: str
    inputs: dict[str, dict[str, Any]]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_description(cls, name: str, description: dict[str, Any]) -> OperationSpec:
        return cls(name=description.get("name", name), description=description.get("description", ""),
                   inputs=dict(description.get("inputs") or {}), raw=dict(description))

    def file_inputs(self) -> list[str]:
        """Keys whose value is a list of image items (the wizard's ``fits`` type)."""
        return [key for key, spec in self.inputs.items() if spec.get("type") == "fits"]

    def describe_input(self, key: str) -> str:
        """One line for a person: ``input_files (fits, 2..999)``, ``align (none|wcs, default none)``."""
        spec = self.inputs[key]
        details = [str(spec.get("type", "?"))]
        if spec.get("options"):
            details[0] = "|".join(str(option) for option in spec["options"])
        low, high = spec.get("minimum"), spec.get("maximum")
        if low is not None or high is not None:
            details.append(f"{'' if low is None else low}..{'' if high is None else high}")
        if "default" in spec:
            details.append(f"default {spec['default']}")
        return f"{key} ({', '.join(details)})"
