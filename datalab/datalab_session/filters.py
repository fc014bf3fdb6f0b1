"""Query filters for the session list: by name and by creation/modification dates."""
import django_filters

from datalab.datalab_session.models import DataSession


class DataSessionFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    created_after = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte")
    modified_after = django_filters.IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = django_filters.IsoDateTimeFilter(field_name="modified", lookup_expr="lte")

    class Meta:
        model = DataSession
        fields = ["name"]
