"""The overview's chart, computed here and drawn by the template as SVG (no script, no library).

One panel per source; in each, a bar per hour of the last 24, stacked by outcome. The geometry
is in viewBox units: the SVG scales to the page's width (on a phone it scrolls sideways rather
than shrink its labels).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.events.delivery_counts import DeliveryHistory, DeliveryOutcome
from app.events.model import Source

WIDTH = 600
PANEL_HEIGHT = 60  # the bars' area
HEADER = 20  # the source's name above its bars
GAP = 22  # below the bars: the hour labels
LABEL_WIDTH = 4  # left margin of the bars
STACK = (DeliveryOutcome.processed, DeliveryOutcome.ignored, DeliveryOutcome.failed)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    outcome: str
    title: str  # the tooltip (and the accessible name)


@dataclass(frozen=True)
class Panel:
    source: str
    top: float  # the panel's top; its bars' baseline is `baseline`
    baseline: float
    peak: int
    bars: list[Bar]
    totals: dict[str, int]  # outcome -> count over the window (verified included)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    panels: list[Panel]
    hour_ticks: list[tuple[float, str]]  # x, "HH:00"
    outcomes: list[str]  # the stack's order (legend)
    origin: str
    total: int


def build_chart(history: DeliveryHistory) -> Chart:
    plot_width = WIDTH - LABEL_WIDTH
    slot = plot_width / max(1, len(history.hours))
    panels: list[Panel] = []
    for index, source in enumerate(Source):
        top = index * (HEADER + PANEL_HEIGHT + GAP)
        stacks = [sum(h.count(source, o) for o in STACK) for h in history.hours]
        peak = max(stacks, default=0)
        bars: list[Bar] = []
        for position, hour in enumerate(history.hours):
            base: float = top + HEADER + PANEL_HEIGHT
            for outcome in STACK:
                count = hour.count(source, outcome)
                if not count:
                    continue
                height = PANEL_HEIGHT * count / peak
                base -= height
                bars.append(
                    Bar(
                        x=round(LABEL_WIDTH + position * slot + 1, 2),
                        y=round(base, 2),
                        width=round(max(1.0, slot - 2), 2),
                        height=round(height, 2),
                        outcome=outcome.value,
                        title=f"{source.value} {hour.hour:%H}:00 UTC: {count} {outcome.value}",
                    )
                )
        totals = {
            outcome.value: sum(h.count(source, outcome) for h in history.hours)
            for outcome in DeliveryOutcome
        }
        panels.append(Panel(source.value, top, top + HEADER + PANEL_HEIGHT, peak, bars, totals))
    ticks = [
        (round(LABEL_WIDTH + i * slot, 2), f"{hour.hour:%H}:00")
        for i, hour in enumerate(history.hours)
        if i % 6 == 0
    ]
    height = len(panels) * (HEADER + PANEL_HEIGHT + GAP)
    total = sum(sum(p.totals[o.value] for o in STACK) for p in panels)
    return Chart(WIDTH, height, panels, ticks, [o.value for o in STACK], history.origin, total)
