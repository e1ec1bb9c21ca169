"""``python -m bench.faults --cases 300``: the fault run, its counts printed; exit 1 on a failure.

The run's folder (logs of every process, the stores) is removed after a passing run, kept
after a failing one or with ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from bench.faults.scenario import Plan, run


def main() -> None:
    defaults = Plan()
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--cases", type=int, default=defaults.cases)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--outage-seconds", type=float, default=defaults.outage_seconds)
    parser.add_argument(
        "--temporal-down-seconds", type=float, default=defaults.temporal_down_seconds
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's folder")
    args = parser.parse_args()
    plan = Plan(
        cases=args.cases,
        concurrency=args.concurrency,
        outage_seconds=args.outage_seconds,
        temporal_down_seconds=args.temporal_down_seconds,
    )
    folder = Path(tempfile.mkdtemp(prefix="onetrip-faults-"))
    report = asyncio.run(run(plan, folder))
    print(report.render(), flush=True)
    if report.failures or args.keep:
        print(f"logs and stores kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
