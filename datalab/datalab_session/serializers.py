"""How sessions and operations look on the wire (see the API contract)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datalab.datalab_session.models import DataOperation, DataSession
from datalab.datalab_session.outputs import with_urls


class DataOperationSerializer(serializers.ModelSerializer):
    output = serializers.SerializerMethodField()

    class Meta:
        model = DataOperation
        fields = [
            "id", "session", "name", "input_data", "status", "operation_progress", "message", "output",
            "attempts", "created", "modified", "started_at", "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_output(self, operation: DataOperation) -> dict | None:
        return with_urls(operation.output, request=self.context.get("request"))


class DataSessionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=255, allow_blank=False, trim_whitespace=True)
    input_data = serializers.JSONField(required=False, default=list)
    operations = DataOperationSerializer(many=True, read_only=True)

    class Meta:
        model = DataSession
        fields = ["id", "name", "input_data", "operations", "created", "modified", "accessed"]
        read_only_fields = ["id", "operations", "created", "modified", "accessed"]


class OperationRequestSerializer(serializers.Serializer):
    """The body of ``POST .../operations/``; deeper checks follow the operation's wizard."""

    name = serializers.CharField(max_length=100)
    input_data = serializers.JSONField(required=False, default=dict)


class BulkDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=True, max_length=10_000)
