"""``manage.py apply_retention``: trim the frame cache, the analysis cache and analysis TIFFs now."""
from django.core.management.base import BaseCommand

from datalab.retention import apply_retention


class Command(BaseCommand):
    help = "Remove cached frames, analysis cache files and analysis TIFFs past their age or size limits."

    def handle(self, *args, **options) -> None:
        for what, count in apply_retention().items():
            self.stdout.write(f"{what}: {count} file(s) removed")
