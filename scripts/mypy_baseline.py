"""Compare mypy's errors with the committed baseline; the baseline may only shrink.

Usage: python scripts/mypy_baseline.py [--update]

Runs mypy (configured in pyproject.toml) and normalises each error line to
"path: message [code]" (line numbers dropped, so that unrelated edits do not churn the
baseline). Fails on an error absent from `.mypy-baseline.txt`, and on a baseline line that
no longer occurs (remove it: run with --update). `--update` rewrites the baseline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: (?P<message>.*)$")


def errors_current() -> Counter[str]:
    """mypy's error lines, normalised, with how often each occurs."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode not in (0, 1):
        sys.exit(f"mypy did not run:\n{result.stdout}{result.stderr}")
    found: Counter[str] = Counter()
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            found[f"{match['path']}: {match['message']}"] += 1
    return found


def main() -> int:
    current = errors_current()
    if "--update" in sys.argv:
        BASELINE.write_text("".join(f"{line}\n" for line in sorted(current.elements())))
        print(f"mypy baseline: {sum(current.values())} errors written to {BASELINE.name}")
        return 0
    baseline = Counter(BASELINE.read_text().splitlines()) if BASELINE.exists() else Counter()
    new, gone = current - baseline, baseline - current
    for line in sorted(new.elements()):
        print(f"new mypy error: {line}")
    for line in sorted(gone.elements()):
        print(f"fixed, remove from the baseline (--update): {line}")
    print(f"mypy: {sum(current.values())} errors, baseline {sum(baseline.values())}")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
