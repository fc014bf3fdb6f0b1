"""Latency of the analysis actions on a 4096x4096 frame whose products are already cached.

Runs the whole request path (URL routing, token auth, owner-scoped lookup, cached products, JSON
rendering) through Django's test client against a throw-away SQLite database and directories, on
a synthetic frame stored as the user's own output. Prints the first (cold) call and the median of
repeated calls per action.

    python bench/analysis_bench.py [--size 4096] [--repeat 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def configure(work_dir: Path) -> None:
    """Point Django at private, disposable state before it is imported."""
    for name in ("REDIS_URL", "ARCHIVE_API"):
        os.environ.pop(name, None)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "datalab.settings",
        "DATALAB_VAR_DIR": str(work_dir),
        "DATABASE_URL": f"sqlite:///{work_dir / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(work_dir / "outputs"),
        "ANALYSIS_CACHE_DIR": str(work_dir / "analysis_cache"),
        "DATALAB_EMBEDDED_WORKER": "false",
        "LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(PROJECT_ROOT))
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=15)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="analysis-bench-") as work:
        work_dir = Path(work)
        configure(work_dir)
        from django.contrib.auth import get_user_model
        from django.core.files.storage import default_storage
        from django.core.management import call_command
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        from datalab.datalab_session.models import OutputFile
        from datalab.local_archive.synthetic import make_frame, write_frame

        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

        size = arguments.size
        started = time.perf_counter()
        frame_path = write_frame(make_frame(shape=(size, size), n_stars=600, seed=3), work_dir / "frame.fits.fz")
        with open(frame_path, "rb") as handle:
            name = default_storage.save("outputs/bench/frame.fits.fz", handle)
        OutputFile.objects.create(user=user, basename="datalab-bench-frame", fits_name=name)
        print(f"wrote a {size}x{size} Rice-compressed frame in {time.perf_counter() - started:.1f} s\n")

        base = {"basename": "datalab-bench-frame", "source": "datalab"}
        display = {"width": 1024, "height": 1024}
        middle = 512.0
        calls = [
            ("wcs", {}),
            ("headers", {}),
            ("raw-data", {"max_size": 1024}),
            ("line-profile", {"x1": middle, "y1": 100.0, "x2": middle + 300, "y2": 900.0, **display}),
            ("centroiding", {"x": middle, "y": middle, "radius": 10, "r_back1": 15, "r_back2": 25,
                             "find_centroid": True, "remove_background_stars": True,
                             "use_plane_background": True, **display}),
            ("source-catalog", display),
            ("get-tif", {}),
            ("get-jpg", {"zmin": 100.0, "zmax": 1500.0}),
        ]
        print(f"{'action':<16}{'first call ms':>15}{'median ms':>12}{'min ms':>10}{'max ms':>10}  status")
        for action, extra in calls:
            timings = []
            status = None
            for _ in range(arguments.repeat + 1):
                began = time.perf_counter()
                response = client.post(f"/api/analysis/{action}/", {**base, **extra}, format="json")
                timings.append((time.perf_counter() - began) * 1000.0)
                status = response.status_code
            first, repeated = timings[0], timings[1:]
            print(f"{action:<16}{first:>15.1f}{statistics.median(repeated):>12.1f}{min(repeated):>10.1f}"
                  f"{max(repeated):>10.1f}  {status}")


if __name__ == "__main__":
    main()
