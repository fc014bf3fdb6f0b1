"""``python manage.py generate_demo_frames``: a realistic demo archive for a fresh install."""
from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from datalab.local_archive.indexing import archive_root, index_file
from datalab.local_archive.synthetic import demo_frame_plan, lco_basename, make_frame, write_frame


class Command(BaseCommand):
    help = "Write synthetic LCO-like frames into LOCAL_ARCHIVE_DIR and index them (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=12, help="number of frames (default 12)")
        parser.add_argument("--size", type=int, default=1024, help="frame width and height in pixels")
        parser.add_argument("--seed", type=int, default=1, help="seed of the whole set")
        parser.add_argument("--dir", type=Path, default=None, help="default: LOCAL_ARCHIVE_DIR")
        parser.add_argument("--force", action="store_true", help="rewrite files that already exist")

    def handle(self, *args, count: int, size: int, seed: int, dir: Path | None, force: bool,
               **options) -> None:
        directory = Path(dir or settings.LOCAL_ARCHIVE_DIR).resolve()
        indexable = directory.is_relative_to(archive_root().resolve())
        started = time.perf_counter()
        for arguments in demo_frame_plan(count=count, seed=seed, size=size):
            basename = lco_basename(
                site_id=arguments["site_id"], instrument_id=arguments["instrument_id"],
                observation_date=arguments["observation_date"], frame_number=arguments["frame_number"],
            )
            path = directory / f"{basename}.fits.fz"
            if force or not path.exists():
                write_frame(make_frame(basename=basename, **arguments), path)
                state = "written"
            else:
                state = "exists"
            if indexable:
                index_file(path)
            self.stdout.write(f"{basename} ({arguments['target_name']}, {arguments['filter_name']}, {state})")
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"{count} demo frames of {size}x{size} in {directory} "
                                             f"({elapsed:.1f} s)"))
        if not indexable:
            self.stdout.write(self.style.WARNING("Not indexed: the directory is outside LOCAL_ARCHIVE_DIR."))
