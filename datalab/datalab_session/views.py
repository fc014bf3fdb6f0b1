"""Where API requests enter. Views stay thin: selectors read, services write."""
from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from data_operations.registry import available_operations
from datalab.datalab_session import selectors, services
from datalab.datalab_session.filters import DataSessionFilter
from datalab.datalab_session.input_checks import check_operation_inputs, without_null_inputs
from datalab.datalab_session.models import DataOperation, OutputFile
from datalab.datalab_session.outputs import URL_KINDS, stored_file_response, verify_output_signature
from datalab.datalab_session.serializers import (
    BulkDeleteSerializer,
    DataOperationSerializer,
    DataSessionSerializer,
    OperationRequestSerializer,
)


class DataSessionViewSet(viewsets.ModelViewSet):
    serializer_class = DataSessionSerializer
    filterset_class = DataSessionFilter
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.sessions_for(user=self.request.user)

    def get_object(self):
        session = selectors.session_for(user=self.request.user, session_id=self.kwargs["pk"])
        self.check_object_permissions(self.request, session)
        return session

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        session = self.get_object()
        services.touch_session(session=session)
        return Response(self.get_serializer(session).data)

    def perform_create(self, serializer) -> None:
        serializer.instance = services.create_session(
            user=self.request.user,
            name=serializer.validated_data["name"],
            input_data=serializer.validated_data.get("input_data"),
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = services.update_session(
            session=serializer.instance,
            name=serializer.validated_data.get("name"),
            input_data=serializer.validated_data.get("input_data"),
        )


SESSION_ID = OpenApiParameter("session_pk", int, OpenApiParameter.PATH, description="Data session id")
OPERATION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Operation id")


@extend_schema_view(
    list=extend_schema(parameters=[SESSION_ID]),
    retrieve=extend_schema(parameters=[SESSION_ID, OPERATION_ID]),
    destroy=extend_schema(parameters=[SESSION_ID, OPERATION_ID]),
)
class DataOperationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = DataOperationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user or session
            return DataOperation.objects.none()
        return selectors.operations_for(user=self.request.user, session_id=self.kwargs["session_pk"])

    @extend_schema(parameters=[SESSION_ID], request=OperationRequestSerializer, responses=DataOperationSerializer)
    def create(self, request: Request, *args, **kwargs) -> Response:
        session = selectors.session_for(user=request.user, session_id=kwargs["session_pk"])
        body = OperationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["name"]
        input_data = without_null_inputs(name, body.validated_data["input_data"])
        check_operation_inputs(input_data, operation=name)
        operation, created = services.create_operation(
            user=request.user, session=session, name=name, input_data=input_data,
        )
        return Response(
            self.get_serializer(operation).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        parameters=[SESSION_ID], request=BulkDeleteSerializer,
        responses=inline_serializer("BulkDeleteResult", {"deleted": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"])
    def bulk_delete(self, request: Request, *args, **kwargs) -> Response:
        session = selectors.session_for(user=request.user, session_id=kwargs["session_pk"])
        body = BulkDeleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deleted = services.delete_operations(session=session, ids=body.validated_data["ids"])
        return Response({"deleted": deleted})

    @extend_schema(parameters=[SESSION_ID, OPERATION_ID], request=None, responses=DataOperationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args, **kwargs) -> Response:
        """Cancel a PENDING or IN_PROGRESS operation: it ends FAILED with "Cancelled by the user."."""
        operation = services.cancel_operation(operation=self.get_object())
        return Response(self.get_serializer(operation).data)


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def available_operations_view(request: Request) -> Response:
    """Every operation's wizard description, keyed by name."""
    return Response({name: cls.wizard_description() for name, cls in available_operations().items()})


@extend_schema(exclude=True)
@api_view(["GET", "HEAD"])
@permission_classes([AllowAny])
def output_file_view(request: Request, basename: str, kind: str):
    """Serve one stored product to anyone holding a valid, unexpired signed URL of an output that still exists."""
    signature = request.query_params.get("sig", "")
    if kind not in URL_KINDS or not verify_output_signature(basename, kind, signature):
        raise Http404
    record = OutputFile.objects.filter(basename=basename).first()
    name = getattr(record, URL_KINDS[kind], "") if record else ""
    if not name or not default_storage.exists(name):
        raise Http404
    content_type = {"fits": "application/fits", "tif": "image/tiff"}.get(kind, "image/jpeg")
    if kind == "data":
        content_type = "image/jpeg" if name.endswith(".jpg") else "text/plain; charset=utf-8"
    download_name = name.rsplit("/", 1)[-1] if kind in ("fits", "tif") or content_type.startswith("text/") else None
    return stored_file_response(name, content_type=content_type, download_name=download_name)
