"""The training loss chart: every loss a training run reports (its `stage_metric` notifications
whose name holds "loss"), one coloured line each over the iterations, drawn with OpenCV into a PNG
for sendPhoto. Drawn by hand so the bot needs no plotting library."""

from __future__ import annotations

import cv2
import numpy as np

WIDTH, HEIGHT = 800, 450
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 80, 20, 50, 50
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]  # RGB
FONT = cv2.FONT_HERSHEY_SIMPLEX
GRID, AXIS, TEXT = (225, 225, 225), (90, 90, 90), (30, 30, 30)

Series = dict[str, list[tuple[int, float]]]  # metric name -> (step, value), in arrival order


def is_loss(name: str) -> bool:
    return "loss" in name.lower()


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def loss_chart(series: Series, title: str) -> bytes:
    """The PNG of `series` (at least one point): x the step, y the value, a legend on top."""
    points = [p for values in series.values() for p in values]
    steps = [s for s, _ in points]
    values = [v for _, v in points]
    x_low, x_high = min(steps), max(max(steps), min(steps) + 1)
    y_low, y_high = min(values), max(values)
    pad = (y_high - y_low) * 0.05 or abs(y_high) * 0.05 or 1.0
    y_low, y_high = y_low - pad, y_high + pad
    plot_w, plot_h = WIDTH - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def at(step: float, value: float) -> tuple[int, int]:
        return (round(MARGIN_LEFT + (step - x_low) / (x_high - x_low) * plot_w),
                round(MARGIN_TOP + (y_high - value) / (y_high - y_low) * plot_h))

    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    for value in _ticks(y_low, y_high):
        _, y = at(x_low, value)
        cv2.line(image, (MARGIN_LEFT, y), (WIDTH - MARGIN_RIGHT, y), GRID, 1)
        cv2.putText(image, f"{value:.3g}", (8, y + 4), FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    for step in _ticks(x_low, x_high):
        x, _ = at(step, y_low)
        cv2.putText(image, f"{step:.0f}", (x - 12, HEIGHT - MARGIN_BOTTOM + 18), FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    cv2.rectangle(image, (MARGIN_LEFT, MARGIN_TOP), (WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM), AXIS, 1)
    cv2.putText(image, "iteration", (WIDTH // 2 - 30, HEIGHT - 12), FONT, 0.45, TEXT, 1, cv2.LINE_AA)
    cv2.putText(image, title, (MARGIN_LEFT, 20), FONT, 0.55, TEXT, 1, cv2.LINE_AA)
    legend_x = MARGIN_LEFT
    for index, (name, values) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        line = np.array([at(s, v) for s, v in sorted(values)], np.int32)
        cv2.polylines(image, [line.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        if len(line) == 1:
            cv2.circle(image, tuple(int(c) for c in line[0]), 3, colour, -1)
        cv2.line(image, (legend_x, 36), (legend_x + 18, 36), colour, 3)
        cv2.putText(image, name, (legend_x + 22, 40), FONT, 0.45, TEXT, 1, cv2.LINE_AA)
        legend_x += 40 + 9 * len(name)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("the chart could not be encoded as PNG")
    return data.tobytes()
