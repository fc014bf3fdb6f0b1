"""Admin screens for operators: sessions, operations (by status), outputs and user profiles."""
from django.contrib import admin

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
    search_fields = ["user__username", "message", "cache_key"]
    readonly_fields = [
        "cache_key", "claim_token", "heartbeat", "enqueued_at", "started_at", "finished_at", "created", "modified",
    ]


@admin.register(OutputFile)
class OutputFileAdmin(admin.ModelAdmin):
    list_display = ["basename", "user", "operation", "created"]
    search_fields = ["basename", "user__username"]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "archive_proposals"]
    search_fields = ["user__username"]
