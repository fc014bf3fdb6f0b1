"""The index of the local archive: one row per FITS file under LOCAL_ARCHIVE_DIR."""
from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.db.models import Q
from django.utils import timezone

# Frames of these OBSTYPEs are calibrations, hidden by ``exclude_calibrations=true``.
CALIBRATION_TYPES = ("BIAS", "DARK", "SKYFLAT", "LAMPFLAT", "DOMEFLAT", "ARC", "GUIDE", "EXPERIMENTAL")


class ArchiveFrameQuerySet(models.QuerySet):
    def public(self) -> ArchiveFrameQuerySet:
        """Frames whose proprietary period is over (no public date counts as public)."""
        return self.filter(Q(public_date__isnull=True) | Q(public_date__lte=timezone.now()))

    def proprietary(self) -> ArchiveFrameQuerySet:
        return self.filter(public_date__gt=timezone.now())

    def visible_to(self, *, proposals: Iterable[str]) -> ArchiveFrameQuerySet:
        """Public frames plus proprietary frames of ``proposals``: the only way frames are listed."""
        visible = Q(public_date__isnull=True) | Q(public_date__lte=timezone.now())
        proposal_ids = [str(proposal) for proposal in proposals if proposal]
        if proposal_ids:
            visible |= Q(proposal_id__in=proposal_ids)
        return self.filter(visible)

    def covering(self, *, ra: float, dec: float) -> ArchiveFrameQuerySet:
        """Frames whose footprint's bounding box contains (ra, dec), RA wrap-around included."""
        candidates = self.filter(dec_min__lte=dec, dec_max__gte=dec).values_list("id", "area")
        matching_ids = [frame_id for frame_id, area in candidates if footprint_contains(area, ra=ra, dec=dec)]
        return self.filter(id__in=matching_ids)


def footprint_contains(area: dict | None, *, ra: float, dec: float) -> bool:
    """Bounding-box test of a GeoJSON polygon; RAs are unwrapped around the point first."""
    try:
        corners = area["coordinates"][0]
    except (TypeError, KeyError, IndexError):
        return False
    if not corners:
        return False
    unwrapped_ras = [ra + ((corner[0] - ra + 180.0) % 360.0 - 180.0) for corner in corners]
    decs = [corner[1] for corner in corners]
    return min(unwrapped_ras) <= ra <= max(unwrapped_ras) and min(decs) <= dec <= max(decs)


class ArchiveFrame(models.Model):
    """A frame file and the header values the frames API filters on and returns."""

    basename = models.CharField(max_length=128, unique=True)
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=1024, help_text="Relative to LOCAL_ARCHIVE_DIR.")
    md5 = models.CharField(max_length=32)
    size = models.BigIntegerField()
    observation_date = models.DateTimeField(null=True, blank=True, db_index=True)
    observation_day = models.DateField(null=True, blank=True)
    primary_optical_element = models.CharField(max_length=32, blank=True, default="", db_index=True)
    target_name = models.CharField(max_length=255, blank=True, default="")
    site_id = models.CharField(max_length=32, blank=True, default="")
    telescope_id = models.CharField(max_length=32, blank=True, default="")
    instrument_id = models.CharField(max_length=32, blank=True, default="")
    proposal_id = models.CharField(max_length=128, blank=True, default="", db_index=True)
    public_date = models.DateTimeField(null=True, blank=True, db_index=True)
    reduction_level = models.IntegerField(default=0)
    exposure_time = models.FloatField(null=True, blank=True)
    configuration_type = models.CharField(max_length=32, blank=True, default="")
    request_id = models.BigIntegerField(null=True, blank=True)
    area = models.JSONField(null=True, blank=True, help_text="GeoJSON polygon of the WCS footprint.")
    headers = models.JSONField(default=dict, blank=True)
    ra = models.FloatField(null=True, blank=True, help_text="Footprint centre, degrees.")
    dec = models.FloatField(null=True, blank=True, help_text="Footprint centre, degrees.")
    dec_min = models.FloatField(null=True, blank=True)
    dec_max = models.FloatField(null=True, blank=True)
    version_created = models.DateTimeField(default=timezone.now,
                                           help_text="When this md5 (file version) was indexed.")

    objects = ArchiveFrameQuerySet.as_manager()

    class Meta:
        # Newest first, frames without a DATE-OBS last on every database.
        ordering = [models.F("observation_date").desc(nulls_last=True), "-id"]

    def __str__(self) -> str:
        return self.basename

    @property
    def is_public(self) -> bool:
        return self.public_date is None or self.public_date <= timezone.now()
