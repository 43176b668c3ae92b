"""The measurement: rounds that alternate ours, nginx and the ceiling per workload.

A run reads the proxy tree's CPU time before and after the load generator's window
and divides it by the work the load generator saw done.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import loadgen, procstat, profiling
from .loadgen import Load, LoadError
from .report import Results, Sample
from .stack import Stack, System, fetch, header_dict
from .workloads import CONNECTIONS, MIB, Workload


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float  # per keep-alive or new-connection run
    upload_bytes: int
    upload_file: Path
    client_core: int
    workloads: tuple[Workload, ...]
    profile_dir: Path | None = None  # py-spy our proxy into this folder


def validators(stack: Stack, system: System, workload: Workload) -> tuple[str, ...] | None:
    """If-None-Match / If-Modified-Since from a first answer; None if it has neither."""
    _, headers, _ = fetch(stack, system.blog_base + workload.path, header_dict(system.blog_headers))
    conditional = []
    if "etag" in headers:
        conditional.append(f"If-None-Match: {headers['etag']}")
    if "last-modified" in headers:
        conditional.append(f"If-Modified-Since: {headers['last-modified']}")
    return tuple(conditional) or None


def _headers(stack: Stack, system: System, workload: Workload) -> tuple[str, ...]:
    headers: tuple[str, ...] = ()
    if workload.blog:
        headers = system.blog_headers
        if workload.backend == "blog_cached":
            headers = system.cached_headers
        if workload.conditional:
            found = validators(stack, system, workload)
            if found is None:
                raise LoadError(f"{workload.path} sends no ETag or Last-Modified")
            status, _, _ = fetch(
                stack, system.blog_base + workload.path, header_dict(headers + found)
            )
            if status != 304:
                raise LoadError(f"a conditional GET {workload.path} answered {status}, not 304")
            headers += found
    if workload.client == "close":
        headers += ("Connection: close",)
    return headers


@contextlib.contextmanager
def _peak(pid: int | None, watch: bool) -> Iterator[procstat.PeakMemory | None]:
    if pid is None or not watch:
        yield None
        return
    with procstat.PeakMemory(pid) as peak:
        yield peak


def measure(stack: Stack, system: System, workload: Workload, plan: Plan) -> Sample:
    base = system.blog_base if workload.blog else system.base
    url = base + workload.path
    headers = _headers(stack, system, workload)
    cpu_before = procstat.cpu_seconds(system.pid) if system.pid else 0.0
    blog_before = procstat.cpu_seconds(stack.blog_pid) if workload.blog else 0.0
    profile = plan.profile_dir if system.name == "ours" else None
    with (
        profiling.sampled(system.pid, profile, workload.name, plan.client_core),
        _peak(system.pid, workload.client == "upload") as peak,
    ):
        load: Load
        if workload.client == "upload":
            load = loadgen.upload(
                url, plan.upload_file, plan.upload_bytes, stack.certificates.ca, plan.client_core
            )
        elif workload.client == "resumed":
            load = loadgen.resumed(url, plan.seconds, stack.certificates.ca, plan.client_core)
        else:
            load = loadgen.wrk(url, plan.seconds, CONNECTIONS, plan.client_core, headers)
    cpu = procstat.cpu_seconds(system.pid) - cpu_before if system.pid else None
    blog_cpu = None
    if workload.blog:  # what the blog spent answering: 100 is one core
        blog_cpu = (procstat.cpu_seconds(stack.blog_pid) - blog_before) / load.seconds * 100
    mib = load.bytes / MIB
    work = mib if workload.per == "MiB" else load.requests
    throughput = work / load.seconds
    return Sample(
        throughput=throughput,
        cpu=None if cpu is None else cpu / work * workload.unit.cost_scale,
        p50_ms=load.p50_ms,
        p99_ms=load.p99_ms,
        peak_mib=None if peak is None else peak.peak / MIB,
        idle_mib=None if peak is None else peak.baseline / MIB,
        blog_cpu=blog_cpu,
        errors=load.errors,
    )


def run(stack: Stack, plan: Plan, results: Results) -> list[str]:
    """All rounds; returns the failures (a workload that could not run on a system)."""
    failures: list[str] = []
    order = list(stack.systems)
    for number in range(plan.rounds):
        for workload in plan.workloads:
            if workload.name in results.notes:
                continue
            for system in order:
                if workload.client == "resumed" and not system.base.startswith("https:"):
                    continue  # the ceiling speaks no TLS: nothing to resume
                try:
                    sample = measure(stack, system, workload, plan)
                except LoadError as exc:
                    failures.append(f"{workload.name} on {system.name}: {exc}")
                    print(f"  FAILED {workload.name} {system.name}: {exc}", file=sys.stderr)
                    continue
                results.add(workload.name, system.name, sample)
                print(
                    f"  round {number + 1}/{plan.rounds} {workload.name:15} {system.name:8}"
                    f" {sample.throughput:10.1f} {workload.unit.throughput:7}"
                    f" cpu {sample.cpu if sample.cpu is not None else float('nan'):8.1f}"
                    f" {workload.unit.cost}",
                    file=sys.stderr,
                    flush=True,
                )
        order = order[1:] + order[:1]  # who goes first rotates between rounds
    return failures
