"""The issue's targets: each a bound on one ratio (ours / nginx) or on one figure of ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Figure = Literal["throughput", "cpu", "p50_ms", "p99_ms", "peak_mib", "idle_mib", "blog_cpu"]


@dataclass(frozen=True)
class Target:
    workload: str
    figure: Figure
    bound: float
    at_most: bool  # True: the value must be <= bound; False: >= bound
    ratio: bool = True  # True: ours / nginx; False: ours' own figure
    label: str = ""
    versus: str = ""  # a workload: ours here / ours there (ratio is then False)

    def met(self, value: float) -> bool:
        return value <= self.bound if self.at_most else value >= self.bound

    def describe(self) -> str:
        sign = "<=" if self.at_most else ">="
        what = "x nginx" if self.ratio else f"x ours on {self.versus}" if self.versus else ""
        return f"{self.label} {sign} {self.bound:g}{what}"


TARGETS: tuple[Target, ...] = (
    Target("small", "cpu", 2.0, True, label="CPU per request"),
    Target("small", "throughput", 0.6, False, label="req/s"),
    Target("small", "p99_ms", 1.5, True, label="p99 latency"),
    Target("mib", "cpu", 1.0, True, label="CPU per MiB"),
    Target("mib", "throughput", 1.0, False, label="MiB/s"),
    Target("newconn", "cpu", 1.25, True, label="CPU per connection"),
    Target("upload", "peak_mib", 64.0, True, ratio=False, label="peak memory MiB"),
    # Issue 21: a cached front page at 10x today's uncached rate, for at most 2x nginx's CPU.
    Target(
        "blog_front_cached",
        "throughput",
        10.0,
        False,
        ratio=False,
        label="pages/s",
        versus="blog_front",
    ),
    Target("blog_front_cached", "cpu", 2.0, True, label="CPU per cached page"),
)
