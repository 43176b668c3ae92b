"""The PNG: per workload, ours and the ceiling relative to nginx (throughput and CPU
cost per unit of work), with the targets drawn in."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

from .report import Results
from .targets import TARGETS
from .workloads import WORKLOADS


def draw(results: Results, path: Path) -> None:
    names = [w.name for w in WORKLOADS if w.name in results.samples]
    figure, (rate, cost) = plt.subplots(1, 2, figsize=(13, 4.8))
    positions = range(len(names))
    for axis, name, title in (
        (rate, "throughput", "throughput relative to nginx (higher is better)"),
        (cost, "cpu", "proxy CPU per unit of work relative to nginx (lower is better)"),
    ):
        ours = [results.ratio(n, name) or 0.0 for n in names]  # type: ignore[arg-type]
        bars = axis.bar([p - 0.2 for p in positions], ours, 0.4, label="ours")
        axis.bar_label(bars, fmt="%.2f", fontsize=7)
        if name == "throughput":
            ceiling = []
            for n in names:
                top, nginx = (
                    results.median(n, "ceiling", "throughput"),
                    results.median(n, "nginx", "throughput"),
                )
                ceiling.append(top / nginx if top and nginx else 0.0)
            axis.bar([p + 0.2 for p in positions], ceiling, 0.4, label="backend alone", alpha=0.5)
        axis.axhline(1.0, color="black", linewidth=0.8, label="nginx")
        for target in TARGETS:
            if target.ratio and target.figure == name and target.workload in names:
                x = names.index(target.workload)
                axis.plot([x - 0.4, x + 0.4], [target.bound] * 2, color="red", linestyle="--")
        axis.set_xticks(list(positions), names, rotation=30, ha="right", fontsize=8)
        axis.set_title(title, fontsize=9)
        axis.legend(fontsize=7)
    meta = results.meta
    figure.suptitle(
        f"tlsproxy vs nginx {meta.get('nginx_version', '')}, {meta.get('mode', '')} run "
        f"{meta.get('started', '')} (red dashes: targets)",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
