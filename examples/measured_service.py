"""Build a decision log to try ``leadpilot report shadow`` and ``leadpilot report lift`` on.

Runs the real service in-process (FastAPI test client, SQLite file) on a synthetic world
with known truth: 300 leads in shadow mode, then 300 live with a 30% per-lead holdout, then
300 live with a switchback holdout (hourly blocks, 10-minute washout), one lead every 12
minutes. Each lead's outcome is drawn from the world's true conversion probability for the
rep who got it (meetings and opportunity amounts follow), and posted as events
(``leadpilot.cli.report_demo.build_measured_log``; ``leadpilot demo`` runs a smaller one).

    python examples/measured_service.py measured.db
    leadpilot report shadow --db sqlite:///measured.db --out shadow.html
    leadpilot report lift --db sqlite:///measured.db --out lift.html --json-out lift.json
"""

from __future__ import annotations

import sys
from pathlib import Path

from leadpilot.cli.report_demo import build_measured_log


def main(path: str) -> None:
    db = Path(path)
    if db.exists():
        sys.exit(f"{db} exists: give a new file name")
    build_measured_log(db, 300)
    print(f"decision log: sqlite:///{db}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/measured_service.py NEW_FILE.db")
    main(sys.argv[1])
