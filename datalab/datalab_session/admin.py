"""Admin screens for operators: sessions, operations (by status), outputs and user profiles."""
from django.contrib import admin, messages
from django.db.models import TextField
from django.db.models.functions import Cast

from datalab.datalab_session import services
from datalab.datalab_session.models import DataOperation, DataSession, OutputFile, UserProfile


class DataOperationInline(admin.TabularInline):
    model = DataOperation
    fields = ["name", "status", "operation_progress", "message"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(DataSession)
class DataSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "created", "accessed"]
    search_fields = ["name", "user__username"]
    list_filter = ["created"]
    inlines = [DataOperationInline]


@admin.register(DataOperation)
class DataOperationAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "session", "status", "operation_progress", "attempts", "created"]
    list_filter = ["status", "name"]
    # Output basenames here; input basenames are matched in get_search_results.
    search_fields = ["user__username", "message", "cache_key", "files__basename"]
    readonly_fields = [
        "cache_key", "claim_token", "heartbeat", "enqueued_at", "started_at", "finished_at", "created", "modified",
    ]
    actions = ["rerun_failed", "cancel_unfinished"]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            by_input = queryset.annotate(inputs_text=Cast("input_data", TextField())).filter(
                inputs_text__icontains=search_term
            )
            results = results | queryset.filter(pk__in=by_input.values("pk"))
            may_have_duplicates = True
        return results, may_have_duplicates

    @admin.action(description="Re-run selected FAILED operations")
    def rerun_failed(self, request, queryset) -> None:
        self._apply(request, queryset, action="rerun", done="queued again", allowed="FAILED")

    @admin.action(description="Cancel selected PENDING or IN_PROGRESS operations")
    def cancel_unfinished(self, request, queryset) -> None:
        self._apply(request, queryset, action="cancel", done="cancelled", allowed="PENDING or IN_PROGRESS")

    def _apply(self, request, queryset, *, action: str, done: str, allowed: str) -> None:
        """The API's state machine, one operation at a time; operations in other states are left alone."""
        operations = list(queryset)
        changed = sum(services.change_operation_state(operation=operation, action=action) for operation in operations)
        self.message_user(request, f"{changed} operation(s) {done}.", messages.SUCCESS)
        if changed < len(operations):
            self.message_user(
                request, f"{len(operations) - changed} operation(s) left unchanged: only {allowed} ones can be {done}.",
                messages.WARNING,
            )


@admin.register(OutputFile)
class OutputFileAdmin(admin.ModelAdmin):
    list_display = ["basename", "user", "operation", "created"]
    search_fields = ["basename", "user__username"]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "archive_proposals"]
    search_fields = ["user__username"]
