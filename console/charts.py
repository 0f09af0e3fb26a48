"""The custody chart (Gantt-like) of a case: one row per unit, one bar per custody period, drawn
server-side as SVG (no script, nothing from another origin; it prints as it shows).

The geometry is computed here from the trail's custody periods (``ledger.projections.custody``);
the template only places it. Times on the axis are Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.domain.context import SHANGHAI
from ledger.projections.views import CustodyEnd, Trail

WIDTH = 960  # the viewBox; the SVG scales to its container
LABEL_WIDTH = 240
RIGHT_MARGIN = 16
ROW_HEIGHT = 30
TOP = 8
AXIS_HEIGHT = 34
MAX_TICKS = 8
_STEPS = (
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=7),
    timedelta(days=14),
    timedelta(days=30),
    timedelta(days=91),
)


@dataclass(frozen=True)
class Bar:
    row: int
    x: float
    y: float
    width: float
    unit: str
    from_at: datetime
    to_at: datetime | None
    working_days: int
    ended: CustodyEnd

    @property
    def held(self) -> bool:
        return self.ended is CustodyEnd.OPEN


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Marker:
    """An event on the time axis (a proving event of a finding, in the drill-down)."""

    x: float
    position: int
    label: str
    at: datetime


@dataclass(frozen=True)
class CustodyChart:
    rows: list[str]  # unit codes, in the order they first held the case
    bars: list[Bar]
    ticks: list[Tick]
    markers: list[Marker]
    start: datetime  # of the axis
    end: datetime
    first: datetime  # the first custody period's start
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    row_height: int = ROW_HEIGHT
    top: int = TOP

    @property
    def plot_bottom(self) -> int:
        return self.top + len(self.rows) * self.row_height

    @property
    def height(self) -> int:
        return self.plot_bottom + AXIS_HEIGHT


def custody_chart(
    trail: Trail | None, markers: Iterable[tuple[datetime, int, str]] = (), width: int = WIDTH
) -> CustodyChart | None:
    """The chart of ``trail``'s custody periods up to its moment (an open period runs to it);
    ``markers``: (time, log position, label) of events to mark on the axis; ``width``: of the
    drawing, in the units of its text (narrower for paper: larger text)."""
    if trail is None or not trail.custody:
        return None
    marks = sorted(markers)
    plot_width = width - LABEL_WIDTH - RIGHT_MARGIN
    first = start = min(p.from_at for p in trail.custody)
    end = max(
        [p.to_at or trail.as_of for p in trail.custody] + [at for at, _, _ in marks] + [start]
    )
    start = min([start] + [at for at, _, _ in marks])
    if end - start < timedelta(hours=1):
        end = start + timedelta(hours=1)
    if end - start >= timedelta(days=2):  # the axis starts on a day's first tick
        start = start.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return round(LABEL_WIDTH + plot_width * (moment - start).total_seconds() / span, 1)

    rows: list[str] = []
    bars = []
    for period in trail.custody:
        if period.unit not in rows:
            rows.append(period.unit)
        row = rows.index(period.unit)
        left = x(period.from_at)
        right = x(period.to_at or trail.as_of)
        bars.append(
            Bar(
                row=row,
                x=left,
                y=TOP + row * ROW_HEIGHT + 5,
                width=max(right - left, 3.0),
                unit=period.unit,
                from_at=period.from_at,
                to_at=period.to_at,
                working_days=period.dwell_working_days,
                ended=period.ended,
            )
        )
    return CustodyChart(
        rows=rows,
        bars=bars,
        ticks=[Tick(x(t), label) for t, label in _ticks(start, end, plot_width // 90)],
        markers=[Marker(x(at), position, label, at) for at, position, label in marks],
        start=start,
        end=end,
        first=first,
        width=width,
    )


def _ticks(start: datetime, end: datetime, most: int = MAX_TICKS) -> list[tuple[datetime, str]]:
    """Round moments (Asia/Shanghai) between ``start`` and ``end``, at most ``most``."""
    span = end - start
    step = next((s for s in _STEPS if span / s <= most), _STEPS[-1])
    local = start.astimezone(SHANGHAI)
    if step >= timedelta(days=1):
        first = local.replace(hour=0, minute=0, second=0, microsecond=0)
        fmt = "%m-%d"
    else:
        hours = int(step.total_seconds() // 3600)
        first = local.replace(hour=local.hour - local.hour % hours, minute=0, second=0)
        first = first.replace(microsecond=0)
        fmt = "%m-%d %H:%M"
    ticks = []
    moment = first
    while moment <= end:
        if moment >= start:
            ticks.append((moment, moment.strftime(fmt)))
        moment = (moment + step).astimezone(SHANGHAI)
        if step >= timedelta(days=1):  # whole local days, whatever the offset did
            moment = moment.replace(hour=0, minute=0)
    return ticks
