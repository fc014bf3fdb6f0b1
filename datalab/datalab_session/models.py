"""State of the service. PostgreSQL is the source of truth for every operation."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class UserProfile(models.Model):
    """Per-user settings: the token used against the observatory archive."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    archive_token = models.CharField(
        max_length=255, blank=True, default="",
        help_text="This user's observatory archive token; empty falls back to ARCHIVE_API_TOKEN.",
    )
    archive_proposals = models.JSONField(
        default=list, blank=True,
        help_text="Proposal ids whose proprietary frames the embedded local archive shows this user.",
    )

    def __str__(self) -> str:
        return f"profile of {self.user}"


class DataSession(models.Model):
    """A user's working set of frames and the operations run on them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasessions")
    name = models.CharField(max_length=255)
    input_data = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    modified = models.DateTimeField(auto_now=True)
    accessed = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class OperationStatus(models.TextChoices):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


TERMINAL_STATUSES = (OperationStatus.COMPLETED, OperationStatus.FAILED)
UNFINISHED_STATUSES = (OperationStatus.PENDING, OperationStatus.IN_PROGRESS)
# A cancelled operation is FAILED with this message: clients know only the four statuses.
CANCELLED_MESSAGE = "Cancelled by the user."


class DataOperation(models.Model):
    """One run of a data operation; its status, progress and output survive any restart."""

    session = models.ForeignKey(DataSession, on_delete=models.CASCADE, related_name="operations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operations")
    name = models.CharField(max_length=100, db_index=True)
    input_data = models.JSONField(default=dict)
    cache_key = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=20, choices=OperationStatus.choices, default=OperationStatus.PENDING, db_index=True
    )
    operation_progress = models.FloatField(default=0.0)
    message = models.TextField(blank=True, default="")
    output = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The attempt currently holding the claim; completion is written only by its holder.
    claim_token = models.CharField(max_length=36, blank=True, default="")
    heartbeat = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # A PENDING operation waiting out a retry back-off is not claimed before this time.
    not_before = models.DateTimeField(null=True, blank=True)
    # The API request that created (or resubmitted) it: the worker's log lines name it.
    request_id = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            # One operation per distinct request in a session: concurrent duplicates collapse.
            models.UniqueConstraint(fields=["session", "cache_key"], name="unique_operation_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class OutputFile(models.Model):
    """A published product of an operation; its basename is unique across the service."""

    operation = models.ForeignKey(DataOperation, on_delete=models.SET_NULL, null=True, related_name="files")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="output_files")
    basename = models.CharField(max_length=128, unique=True)
    fits_name = models.CharField(max_length=255, blank=True, default="")
    large_name = models.CharField(max_length=255, blank=True, default="")
    small_name = models.CharField(max_length=255, blank=True, default="")
    tif_name = models.CharField(max_length=255, blank=True, default="")
    #: A downloadable data table (ECSV) of an operation's output data.
    data_name = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.basename
