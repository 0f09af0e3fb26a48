"""The custody chart's geometry: one row per unit, bars in time order, an open period to the
trail's moment, marks where the proving events lie, ticks on Asia/Shanghai days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from console.charts import LABEL_WIDTH, RIGHT_MARGIN, WIDTH, custody_chart
from ledger.projections.views import CustodyEnd, CustodyPeriod, StaffView, Trail

T0 = datetime(2026, 9, 24, 1, 30, tzinfo=UTC)  # 09:30 in 潜江


def period(unit: str, start: float, end: float | None, ended: CustodyEnd) -> CustodyPeriod:
    return CustodyPeriod(
        unit=unit,
        from_at=T0 + timedelta(days=start),
        from_position=1,
        to_at=T0 + timedelta(days=end) if end is not None else None,
        to_position=2 if end is not None else None,
        dwell_working_days=1,
        dwell_provisional=False,
        ended=ended,
    )


def trail(*custody: CustodyPeriod, as_of: float = 20) -> Trail:
    return Trail(
        case_id=uuid4(),
        as_of=T0 + timedelta(days=as_of),
        position=10,
        first_responder=StaffView(staff_id="T1001", name="王丽", unit="tax.hall"),
        custody=list(custody),
        duties=[],
    )


def test_bars_rows_ticks_and_marks() -> None:
    chart = custody_chart(
        trail(
            period("tax.hall", 0, 0.2, CustodyEnd.TRANSFERRED),
            period("hrss.window", 0.2, 8, CustodyEnd.TRANSFERRED),
            period("tax.hall", 8, None, CustodyEnd.OPEN),
        ),
        [(T0 + timedelta(days=8), 7, "流转")],
    )
    assert chart is not None
    assert chart.rows == ["tax.hall", "hrss.window"]
    assert [b.row for b in chart.bars] == [0, 1, 0]
    assert [b.held for b in chart.bars] == [False, False, True]
    lefts = [b.x for b in chart.bars]
    assert lefts == sorted(lefts)
    assert lefts[0] >= LABEL_WIDTH
    last = chart.bars[-1]
    assert abs(last.x + last.width - (WIDTH - RIGHT_MARGIN)) < 1  # open: runs to the moment
    assert chart.markers[0].x == chart.bars[2].x  # the transfer's time is where the period starts
    assert 2 <= len(chart.ticks) <= 8
    assert all(LABEL_WIDTH <= t.x <= WIDTH for t in chart.ticks)
    assert chart.ticks[0].label == "09-24"  # the axis starts on the first day, local time
    assert chart.first == T0


def test_a_short_trail_gets_hour_ticks_and_no_trail_no_chart() -> None:
    chart = custody_chart(trail(period("tax.hall", 0, None, CustodyEnd.OPEN), as_of=0.1))
    assert chart is not None
    assert all(":" in t.label for t in chart.ticks)
    assert custody_chart(None) is None
    assert custody_chart(trail()) is None
