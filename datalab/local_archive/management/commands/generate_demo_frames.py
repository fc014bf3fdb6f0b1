"""``python manage.py generate_demo_frames``: the demo sky for a fresh install (see README)."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from datalab.local_archive.demo_proposals import DEMO_PROPOSALS
from datalab.local_archive.indexing import archive_root, index_file
from datalab.local_archive.synthetic import (
    DEMO_GAIA_CATALOGUE,
    demo_frame_plan,
    demo_gaia_catalogue,
    lco_basename,
    make_frame,
    write_frame,
)
from datalab.local_archive.synthetic_gaia import write_catalogue

# The night the demo set was made for, kept beside the frames so later runs find the same set
# (the frames are dated to the night before the first run, so a browser's "last few days" shows them).
NIGHT_FILE = ".demo-night"


def demo_night(directory: Path, requested: str | None) -> datetime:
    """The requested night, else the one recorded in ``directory``, else yesterday (UTC)."""
    recorded = directory / NIGHT_FILE
    text = requested or (recorded.read_text().strip() if recorded.exists() else "")
    if not text:
        text = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
    try:
        night = date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--night must be a date like 2026-11-30, not {text!r}.") from None
    directory.mkdir(parents=True, exist_ok=True)
    recorded.write_text(night.isoformat() + "\n")
    return datetime(night.year, night.month, night.day, tzinfo=timezone.utc)


class Command(BaseCommand):
    help = ("Write the demo sky's frames into LOCAL_ARCHIVE_DIR and index them, with the synthetic Gaia "
            "catalogue of the demo sky beside them (idempotent).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--night", default=None,
                            help="UTC date of the last night observed (default: the one recorded, else yesterday)")
        parser.add_argument("--size", type=int, default=1024, help="frame width and height in pixels")
        parser.add_argument("--seed", type=int, default=1, help="seed of the whole set")
        parser.add_argument("--dir", type=Path, default=None, help="default: LOCAL_ARCHIVE_DIR")
        parser.add_argument("--force", action="store_true", help="rewrite files that already exist")

    def handle(self, *args, night: str | None, size: int, seed: int, dir: Path | None, force: bool,
               **options) -> None:
        directory = Path(dir or settings.LOCAL_ARCHIVE_DIR).resolve()
        indexable = directory.is_relative_to(archive_root().resolve())
        started = time.perf_counter()
        plan = demo_frame_plan(night=demo_night(directory, night), seed=seed, size=size)
        for arguments in plan:
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
            private = " proprietary" if DEMO_PROPOSALS[arguments["proposal_id"]][1] else ""
            self.stdout.write(f"{basename} ({arguments['target_name']}, {arguments['filter_name']},"
                              f" {arguments['proposal_id']}{private}, {state})")
        catalogue = directory / DEMO_GAIA_CATALOGUE
        if force or not catalogue.exists():
            write_catalogue(demo_gaia_catalogue(seed=seed, size=size), catalogue)
            state = "written"
        else:
            state = "exists"
        self.stdout.write(f"{catalogue.name} (the synthetic Gaia catalogue of the demo sky, not real Gaia data;"
                          f" DATALAB_GAIA_PROVIDER=fixture:{catalogue}; {state})")
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"{len(plan)} demo frames in {directory} ({elapsed:.1f} s)"))
        if not indexable:
            self.stdout.write(self.style.WARNING("Not indexed: the directory is outside LOCAL_ARCHIVE_DIR."))
