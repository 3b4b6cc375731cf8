"""app_skeleton.timeline: the numbers behind chapter 03's plots, and the plots themselves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in CI

from app_skeleton.timeline import draw, plot_timelines, sum_of_squares, wall_time  # noqa: E402


def test_sum_of_squares_matches_the_closed_form() -> None:
    for n in (0, 1, 2, 10, 12_345):
        assert sum_of_squares(n) == (n - 1) * n * (2 * n - 1) // 6


def test_wall_time_spans_first_start_to_last_end() -> None:
    assert wall_time([(0.1, 0.3), (0.0, 0.2), (0.2, 0.9)]) == 0.9
    assert wall_time([]) == 0.0


def test_draw_puts_one_bar_per_request_in_start_order() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    draw(ax, [(0.5, 1.0), (0.0, 0.25)], "queue")
    bars = ax.patches
    assert len(bars) == 2
    first = min(bars, key=lambda b: b.get_y())  # top row (the y axis is inverted)
    assert (first.get_x(), first.get_width()) == (0.0, 0.25)
    assert "queue" in ax.get_title() and "1.00 s" in ax.get_title()
    plt.close(fig)


def test_plot_timelines_shares_the_time_axis() -> None:
    import matplotlib.pyplot as plt

    runs = {"serialized": [(0.0, 0.25), (0.0, 0.5)], "concurrent": [(0.0, 0.25), (0.01, 0.26)]}
    fig = plot_timelines(runs, colors=["tab:red"])
    axes = fig.axes
    assert len(axes) == 2
    assert axes[0].get_xlim() == axes[1].get_xlim()
    assert axes[0].get_xlim()[0] == 0
    assert [ax.get_title().split()[0] for ax in axes] == ["serialized", "concurrent"]
    plt.close(fig)
