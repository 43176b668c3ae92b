"""``bench/run [--quick]``: start the stack, run the rounds, print and save the results.

Exit status: 0 when every workload ran on every system (speed is never asserted);
1 when one could not run at all; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import chart, report, rounds
from .processes import Cores
from .report import Results
from .stack import Stack, started
from .workloads import MIB, WORKLOADS

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short round (CI)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; --quick 1)")
    parser.add_argument("--seconds", type=float, help="per run (default 8; --quick 2)")
    parser.add_argument("--upload-mib", type=int, help="upload size (default 1024; --quick 100)")
    parser.add_argument(
        "--only", help="comma-separated workload names: " + ", ".join(w.name for w in WORKLOADS)
    )
    parser.add_argument("--workers", type=int, default=1, help="our proxy's worker processes")
    parser.add_argument("--proxy-cpu", type=int, default=0, help="core of the proxy under test")
    parser.add_argument("--client-cpu", type=int, default=1, help="core of everything else")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--profile", type=Path, help="py-spy our proxy during its runs, into this folder"
    )
    return parser


def _plan(args: argparse.Namespace, workdir: Path) -> rounds.Plan:
    upload_mib = args.upload_mib or (100 if args.quick else 1024)
    upload = workdir / "upload.bin"
    with upload.open("wb") as out:
        out.truncate(upload_mib * MIB)  # sparse: reads as zeros, costs no disk
    wanted = set(args.only.split(",")) if args.only else {w.name for w in WORKLOADS}
    unknown = wanted - {w.name for w in WORKLOADS}
    if unknown:
        print(f"bench/run: unknown workload {', '.join(sorted(unknown))}", file=sys.stderr)
        raise SystemExit(2)
    return rounds.Plan(
        rounds=args.rounds or (1 if args.quick else 3),
        seconds=args.seconds or (2.0 if args.quick else 8.0),
        upload_bytes=upload_mib * MIB,
        upload_file=upload,
        client_core=args.client_cpu,
        workloads=tuple(w for w in WORKLOADS if w.name in wanted),
        profile_dir=args.profile,
    )


def _skip_without_validators(stack: Stack, plan: rounds.Plan, results: Results) -> None:
    ceiling = next(s for s in stack.systems if s.name == "ceiling")
    for workload in plan.workloads:
        if workload.conditional and rounds.validators(stack, ceiling, workload) is None:
            results.notes[workload.name] = (
                f"the blog sends no ETag or Last-Modified for {workload.path}"
            )


def _meta(args: argparse.Namespace, plan: rounds.Plan, stack: Stack) -> dict[str, object]:
    return {
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rounds": plan.rounds,
        "seconds_per_run": plan.seconds,
        "upload_mib": plan.upload_bytes // MIB,
        "connections": 50,
        "workers": args.workers,
        "cores": {"proxy": args.proxy_cpu, "client": args.client_cpu, "online": os.cpu_count()},
        "load_average_before": os.getloadavg(),
        "nginx_version": stack.nginx_version,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cores = Cores(proxy=args.proxy_cpu, client=args.client_cpu)
    os.sched_setaffinity(0, {cores.client})  # this runner never shares the proxy's core
    workdir = Path(tempfile.mkdtemp(prefix="blogkit-bench-"))
    try:
        plan = _plan(args, workdir)
        with started(workdir, cores, args.workers) as stack:
            results = Results(_meta(args, plan, stack))
            _skip_without_validators(stack, plan, results)
            began = time.monotonic()
            failures = rounds.run(stack, plan, results)
            results.meta["load_average_after"] = os.getloadavg()
            results.meta["duration_s"] = round(time.monotonic() - began, 1)
    finally:
        if args.keep:
            print(f"bench: work folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.table(results))
    name = "quick" if args.quick else results.meta["started"].replace(":", "")  # type: ignore[union-attr]
    paths = [RESULTS_DIR / f"{name}.json", RESULTS_DIR / f"{name}.png"]
    report.write_json(results, paths[0])
    chart.draw(results, paths[1])
    print(f"\nresults: {paths[0]}\nchart:   {paths[1]}")
    for failure in failures:
        print(f"bench: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
