"""Measuring tools for chapter 03: request timelines and a CPU-bound workload.

A wall time says *that* requests were slow; a timeline (one bar per request, from
when it was sent to when its response arrived) shows *why*: bars side by side ran
concurrently, a staircase waited in line.

``sum_of_squares`` lives here rather than in a notebook cell because a
``ProcessPoolExecutor`` worker must import the function it runs, and a worker
process cannot import a function defined in a Jupyter cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported on use: process-pool workers import this module too
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Span = tuple[float, float]  # (start, end) in seconds since the first request was sent


def sum_of_squares(n: int) -> int:
    """0² + 1² + … + (n-1)², the slow way: pure Python, so it holds the GIL throughout."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def wall_time(spans: Sequence[Span]) -> float:
    """From the first start to the last end: what the slowest client waited for the whole batch."""
    if not spans:
        return 0.0
    return max(end for _, end in spans) - min(start for start, _ in spans)


def draw(ax: Axes, spans: Sequence[Span], title: str = "", color: str = "tab:blue") -> None:
    """One horizontal bar per request on ``ax``, first request at the top."""
    ordered = sorted(spans)
    for row, (start, end) in enumerate(ordered):
        ax.barh(row, end - start, left=start, height=0.7, color=color)
    ax.set_ylim(len(ordered) - 0.5, -0.5)
    ax.set_yticks([])
    ax.set_ylabel("request")
    ax.set_title(f"{title}  ({wall_time(spans):.2f} s)" if title else f"{wall_time(spans):.2f} s")


def plot_timelines(runs: Mapping[str, Sequence[Span]], colors: Sequence[str] = (), width: float = 9.0) -> Figure:
    """Stack one timeline per run, sharing the time axis so their lengths compare at a glance."""
    import matplotlib.pyplot as plt

    colors = list(colors) or ["tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple"]
    heights = [max(1.0, 0.12 * len(spans) + 0.6) for spans in runs.values()]
    fig, axes = plt.subplots(
        len(runs), 1, sharex=True, figsize=(width, sum(heights) + 0.6), height_ratios=heights, squeeze=False
    )
    for index, (ax, (title, spans)) in enumerate(zip(axes[:, 0], runs.items(), strict=True)):
        draw(ax, spans, title, colors[index % len(colors)])
    axes[-1, 0].set_xlim(left=0)
    axes[-1, 0].set_xlabel("seconds since the first request was sent")
    fig.tight_layout()
    return fig
