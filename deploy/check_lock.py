"""Fail when a runtime dependency of pyproject.toml is missing from requirements.lock.

The image installs only what the lock names, so a dependency added to pyproject.toml without
re-locking would be missing from production.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"].get("s3", [])]
    names = {normalized(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in wanted}
    locked = {
        normalized(line.split("==", 1)[0])
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    missing = sorted(names - locked)
    if missing:
        print(f"requirements.lock lacks {', '.join(missing)}: run scripts/lock-deps.sh.")
        return 1
    print(f"requirements.lock covers all {len(names)} runtime dependencies.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
