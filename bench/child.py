"""One timed run in a fresh process: ``python -m bench.child PIPELINE OUT_DIR PATH...``."""
from __future__ import annotations

import sys
from pathlib import Path

from bench.pipelines import PIPELINES


def main(argv: list[str]) -> None:
    pipeline, out_dir, *paths = argv
    PIPELINES[pipeline]([Path(path) for path in paths], Path(out_dir))


if __name__ == "__main__":
    main(sys.argv[1:])
