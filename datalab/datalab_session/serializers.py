"""How sessions and operations look on the wire (see the API contract)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from data_operations.errors import InputValidationError
from datalab.datalab_session.downloads import with_download_urls
from datalab.datalab_session.input_checks import BASENAME_RULE, check_file_items
from datalab.datalab_session.models import DataOperation, DataSession
from datalab.datalab_session.outputs import output_basenames, with_urls
from datalab.datalab_session.selectors import output_records_by_basename

OUTPUT_RECORDS = "output_records"


def preload_output_records(context: dict, operations) -> None:
    """Load the output records of all ``operations`` in one query, for their serializers to share."""
    records = context.setdefault(OUTPUT_RECORDS, {})
    wanted = {basename for operation in operations for basename in output_basenames(operation.output)}
    records.update(output_records_by_basename(wanted - records.keys()))


class OperationListSerializer(serializers.ListSerializer):
    """Many operations: their output records in one query, not one per operation."""

    def to_representation(self, data):
        operations = list(data.all() if hasattr(data, "all") else data)
        preload_output_records(self.context, operations)
        return super().to_representation(operations)


class SessionListSerializer(serializers.ListSerializer):
    """Many sessions: the output records of all their (prefetched) operations in one query."""

    def to_representation(self, data):
        sessions = list(data.all() if hasattr(data, "all") else data)
        preload_output_records(self.context, [op for session in sessions for op in session.operations.all()])
        return super().to_representation(sessions)


class DataOperationSerializer(serializers.ModelSerializer):
    output = serializers.SerializerMethodField()

    class Meta:
        model = DataOperation
        fields = [
            "id", "session", "name", "input_data", "status", "operation_progress", "message", "output",
            "attempts", "created", "modified", "started_at", "finished_at",
        ]
        read_only_fields = fields
        list_serializer_class = OperationListSerializer

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_output(self, operation: DataOperation) -> dict | None:
        records = self.context.get(OUTPUT_RECORDS)
        return with_download_urls(with_urls(operation.output, records=records), records=records)


class DataSessionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=255, allow_blank=False, trim_whitespace=True)
    input_data = serializers.JSONField(required=False, default=list)
    operations = DataOperationSerializer(many=True, read_only=True)

    class Meta:
        model = DataSession
        fields = ["id", "name", "input_data", "operations", "created", "modified", "accessed"]
        read_only_fields = ["id", "operations", "created", "modified", "accessed"]
        list_serializer_class = SessionListSerializer

    def validate_input_data(self, value):
        try:
            check_file_items(value, where="input_data")
        except InputValidationError:
            raise serializers.ValidationError(f"each item's 'basename' {BASENAME_RULE}.") from None
        return value


class OperationRequestSerializer(serializers.Serializer):
    """The body of ``POST .../operations/``; deeper checks follow the operation's wizard."""

    name = serializers.CharField(max_length=100)
    input_data = serializers.JSONField(required=False, default=dict)


class BulkDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=True, max_length=10_000)
