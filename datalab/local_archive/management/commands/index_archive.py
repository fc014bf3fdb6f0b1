"""``python manage.py index_archive``: (re)build the local archive's index from its files."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from datalab.local_archive.indexing import archive_root, index_directory


class Command(BaseCommand):
    help = "Index every FITS frame under LOCAL_ARCHIVE_DIR; rows of vanished files are removed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep-missing", action="store_true",
                            help="keep rows whose files are gone instead of deleting them")

    def handle(self, *args, keep_missing: bool, **options) -> None:
        frames = index_directory(prune=not keep_missing)
        for frame in frames:
            self.stdout.write(frame.basename)
        self.stdout.write(self.style.SUCCESS(f"Indexed {len(frames)} frame(s) in {archive_root()}."))
