"""Medians over the rounds, ratios ours / nginx, the targets, and their three outputs:
the terminal table, the JSON file and (``chart``) the PNG."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .targets import TARGETS, Figure, Target
from .workloads import WORKLOADS, Workload

SYSTEMS = ("ours", "nginx", "ceiling")


@dataclass(frozen=True)
class Sample:
    """One run of one workload against one system."""

    throughput: float
    cpu: float | None  # CPU cost in the workload's unit (None: no proxy to measure)
    p50_ms: float | None = None
    p99_ms: float | None = None
    peak_mib: float | None = None  # the proxy tree's resident memory at its highest
    idle_mib: float | None = None  # ... and just before the run
    blog_cpu: float | None = None  # the blog's CPU, percent of one core, during the run
    errors: int = 0

    def figure(self, name: Figure) -> float | None:
        value: float | None = getattr(self, name)
        return value


@dataclass
class Results:
    meta: dict[str, Any]
    samples: dict[str, dict[str, list[Sample]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # workload -> why it was skipped

    def add(self, workload: str, system: str, sample: Sample) -> None:
        self.samples.setdefault(workload, {}).setdefault(system, []).append(sample)

    def median(self, workload: str, system: str, name: Figure) -> float | None:
        values = [
            v
            for s in self.samples.get(workload, {}).get(system, [])
            if (v := s.figure(name)) is not None
        ]
        return statistics.median(values) if values else None

    def ratio(self, workload: str, name: Figure) -> float | None:
        ours = self.median(workload, "ours", name)
        nginx = self.median(workload, "nginx", name)
        return ours / nginx if ours is not None and nginx else None

    def verdict(self, target: Target) -> tuple[float | None, bool | None]:
        if target.ratio:
            value = self.ratio(target.workload, target.figure)
        elif target.versus:
            ours = self.median(target.workload, "ours", target.figure)
            before = self.median(target.versus, "ours", target.figure)
            value = ours / before if ours is not None and before else None
        else:
            value = self.median(target.workload, "ours", target.figure)
        return value, (None if value is None else target.met(value))

    def to_json(self) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        for workload in WORKLOADS:
            if workload.name not in self.samples:
                continue
            figures[workload.name] = {
                "title": workload.title,
                "units": {"throughput": workload.unit.throughput, "cpu": workload.unit.cost},
                "median": {
                    system: {name: self.median(workload.name, system, name) for name in FIGURES}
                    for system in SYSTEMS
                },
                "ours_over_nginx": {name: self.ratio(workload.name, name) for name in FIGURES},
                "runs": {
                    system: [asdict(s) for s in runs]
                    for system, runs in self.samples[workload.name].items()
                },
            }
        targets = []
        for target in TARGETS:
            value, met = self.verdict(target)
            targets.append({**asdict(target), "value": value, "met": met})
        return {"meta": self.meta, "workloads": figures, "targets": targets, "notes": self.notes}


FIGURES: tuple[Figure, ...] = (
    "throughput",
    "cpu",
    "p50_ms",
    "p99_ms",
    "peak_mib",
    "idle_mib",
    "blog_cpu",
)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _rows(workload: Workload) -> list[tuple[str, Figure]]:
    """The figures shown for a workload, with their labels."""
    rows: list[tuple[str, Figure]] = [
        (workload.unit.throughput, "throughput"),
        (f"CPU {workload.unit.cost}", "cpu"),
    ]
    if workload.client == "keepalive":
        rows += [("p50 ms", "p50_ms"), ("p99 ms", "p99_ms")]
    if workload.client == "upload":
        rows += [("peak MiB", "peak_mib"), ("MiB just before", "idle_mib")]
    if workload.blog:
        rows.append(("blog CPU %", "blog_cpu"))
    return rows


def table(results: Results) -> str:
    header = ("workload", "figure", "ours", "nginx", "ceiling", "ours/nginx", "target")
    lines = [header]
    for workload in WORKLOADS:
        if workload.name in results.notes:
            note = "skipped: " + results.notes[workload.name]
            lines.append((workload.name, "-", "", "", "", "", note))
            continue
        if workload.name not in results.samples:
            continue
        for label, name in _rows(workload):
            medians = [results.median(workload.name, s, name) for s in SYSTEMS]
            ratio = results.ratio(workload.name, name)
            verdict = ""
            for target in TARGETS:
                if target.workload == workload.name and target.figure == name:
                    value, met = results.verdict(target)
                    mark = "?" if met is None else ("met" if met else "MISSED")
                    verdict = f"{mark} ({target.describe()})"
                    if target.versus and value is not None:
                        verdict += f": {value:.1f}x"
            shown = f"{ratio:.2f}x" if ratio is not None else "-"
            lines.append((workload.name, label, *map(_number, medians), shown, verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join([*cells[:-1], line[-1]]).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_json(), indent=2, ensure_ascii=False) + "\n")
