"""Working days on the official PRC calendar (DOMAIN.md: FR deadlines; "The calendar runs out")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.calendar import (
    Deadline,
    HolidayTable,
    InvalidHolidayTable,
    WorkingCalendar,
    parse_holiday_table,
)

CAL = WorkingCalendar()

# A made-up 2027 arrangement: the State Council has not announced the real one. 2027-01-01 is a
# Friday; the Spring Festival week and its 调休 Sunday are invented for the test.
TABLE_2027 = b"""{
  "years": [2027],
  "holidays": ["2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11",
               "2027-02-12"],
  "workdays": ["2027-02-07"]
}"""


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- the official years ---------------------------------------------------------------------


def test_national_day_2024_week_and_its_weekend_workdays() -> None:
    # 2024: 1-7 October off; Sunday 29 September and Saturday 12 October worked.
    assert all(not CAL.is_working_day(d(f"2024-10-0{i}")) for i in range(1, 8))
    assert CAL.is_working_day(d("2024-09-29"))
    assert CAL.is_working_day(d("2024-10-12"))
    assert not CAL.is_working_day(d("2024-09-28"))


def test_deadline_across_national_day_2024() -> None:
    assert CAL.add_working_days(d("2024-09-30"), 1) == Deadline(d("2024-10-08"), False)
    # Friday 27 September + 1 is the 调休 Sunday.
    assert CAL.add_working_days(d("2024-09-27"), 1) == Deadline(d("2024-09-29"), False)
    # 10 working days: 8, 9, 10, 11, 12 (Sat, worked), 14, 15, 16, 17, 18 October.
    assert CAL.add_working_days(d("2024-09-30"), 10) == Deadline(d("2024-10-18"), False)


def test_national_day_2025_runs_to_the_eighth() -> None:
    # 2025: 1-8 October off (with 中秋); Sunday 28 September and Saturday 11 October worked.
    assert not CAL.is_working_day(d("2025-10-08"))
    assert CAL.add_working_days(d("2025-09-30"), 1) == Deadline(d("2025-10-09"), False)
    assert CAL.add_working_days(d("2025-09-26"), 1) == Deadline(d("2025-09-28"), False)
    assert CAL.working_days_between(d("2025-09-30"), d("2025-10-12")) == (3, False)


def test_spring_festival_2025_with_its_weekend_workdays() -> None:
    # 2025: 28 January - 4 February off; Sunday 26 January and Saturday 8 February worked.
    start = d("2025-01-24")  # Friday
    assert CAL.add_working_days(start, 1).due == d("2025-01-26")
    assert CAL.add_working_days(start, 2).due == d("2025-01-27")
    assert CAL.add_working_days(start, 3).due == d("2025-02-05")
    assert CAL.is_working_day(d("2025-02-08"))


def test_spring_festival_2024_with_its_weekend_workdays() -> None:
    # 2024: 10-17 February off; Sundays 4 and 18 February worked.
    assert CAL.is_working_day(d("2024-02-04"))
    assert CAL.add_working_days(d("2024-02-09"), 1) == Deadline(d("2024-02-18"), False)


def test_same_day_convention() -> None:
    # n = 0: the day itself when it is a working day, else the next working day.
    assert CAL.add_working_days(d("2024-09-30"), 0).due == d("2024-09-30")
    assert CAL.add_working_days(d("2024-09-28"), 0).due == d("2024-09-29")  # Sat → 调休 Sun
    assert CAL.add_working_days(d("2024-10-01"), 0).due == d("2024-10-08")


def test_working_days_between_counts_after_start_up_to_and_including_end() -> None:
    assert CAL.working_days_between(d("2024-09-30"), d("2024-10-08")) == (1, False)
    assert CAL.working_days_between(d("2024-09-30"), d("2024-09-30")) == (0, False)
    assert CAL.working_days_between(d("2024-10-08"), d("2024-09-30")) == (-1, False)
    assert CAL.working_days_between(d("2024-01-01"), d("2024-12-31"))[0] == 251


def test_negative_n_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        CAL.add_working_days(d("2024-09-30"), -1)


def test_a_datetime_is_refused_because_its_day_depends_on_the_time_zone() -> None:
    with pytest.raises(TypeError, match="Asia/Shanghai"):
        CAL.is_working_day(datetime(2024, 9, 30, 20, tzinfo=UTC))


# --- beyond the package: 2027 ---------------------------------------------------------------


def test_package_really_stops_at_2026() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(d("2027-01-04"))


def test_deadline_across_the_2026_2027_boundary_is_provisional_and_does_not_crash() -> None:
    assert CAL.knows(2026)
    assert not CAL.knows(2027)
    assert CAL.add_working_days(d("2026-12-30"), 1) == Deadline(d("2026-12-31"), False)
    # Friday 1 January 2027 is 元旦 by law; the rest of 2027 is known only provisionally.
    assert CAL.add_working_days(d("2026-12-31"), 1) == Deadline(d("2027-01-04"), True)
    assert CAL.add_working_days(d("2026-12-18"), 30) == Deadline(d("2027-02-01"), True)
    assert CAL.working_days_between(d("2026-12-25"), d("2027-01-08")) == (9, True)
    assert CAL.working_days_between(d("2026-12-01"), d("2026-12-31")) == (22, False)
    assert not CAL.is_working_day(d("2027-01-01"))
    assert not CAL.is_working_day(d("2027-01-02"))
    assert CAL.is_working_day(d("2027-01-04"))


def test_far_future_years_fall_back_to_monday_to_friday_less_statutory_holidays() -> None:
    # 2031: 劳动节 Thursday 1 and Friday 2 May.
    assert CAL.add_working_days(d("2031-04-30"), 1) == Deadline(d("2031-05-05"), True)
    assert CAL.add_working_days(d("2031-05-05"), 1) == Deadline(d("2031-05-06"), True)


def test_a_holiday_table_covering_2027_makes_it_official() -> None:
    cal = WorkingCalendar(parse_holiday_table(TABLE_2027))
    assert cal.knows(2027)
    assert not cal.knows(2028)
    assert cal.add_working_days(d("2026-12-31"), 1) == Deadline(d("2027-01-04"), False)
    assert cal.is_working_day(d("2027-02-07"))  # the 调休 Sunday
    assert cal.add_working_days(d("2027-02-05"), 2) == Deadline(d("2027-02-15"), False)
    assert cal.working_days_between(d("2026-12-25"), d("2027-01-08")) == (9, False)
    assert cal.add_working_days(d("2027-12-31"), 1).provisional


def test_the_package_stays_the_authority_for_the_years_it_knows() -> None:
    table = HolidayTable(years=frozenset({2026}), holidays=frozenset({d("2026-03-02")}))
    assert WorkingCalendar(table).is_working_day(d("2026-03-02"))


# --- holiday table validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not valid JSON"),
        (b'{"holidays": ["2027-01-01"]}', "missing required field `years`"),
        (b'{"years": [2027], "holidays": ["2027-01-01"], "extra": 1}', "unknown field `extra`"),
        (b'{"years": [2027], "holidays": ["2027-02-30"]}', r"\$.holidays\[0\]"),
        (b'{"years": [2027], "holidays": ["2027-01-01", "2028-01-01"]}', "outside the years"),
        (b'{"years": [2027, 2028], "holidays": ["2027-01-01"]}', "year 2028 lists no holidays"),
        (b'{"years": [], "holidays": []}', "'years' is empty"),
        (
            b'{"years": [2027], "holidays": ["2027-01-01"], "workdays": ["2027-01-04"]}',
            "is a Monday",
        ),
        (
            b'{"years": [2027], "holidays": ["2027-01-02"], "workdays": ["2027-01-02"]}',
            "both as holiday and workday",
        ),
    ],
)
def test_bad_holiday_tables_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(InvalidHolidayTable, match=message):
        parse_holiday_table(data)


# --- properties -----------------------------------------------------------------------------

official = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 12, 31))
anywhere = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@given(official, st.integers(0, 60))
def test_between_agrees_with_the_package(start: date, span: int) -> None:
    end = min(start + timedelta(days=span), date(2026, 12, 31))
    expected = sum(
        chinese_calendar.is_workday(start + timedelta(days=i))
        for i in range(1, (end - start).days + 1)
    )
    assert CAL.working_days_between(start, end) == (expected, False)


@given(anywhere, anywhere)
def test_between_is_antisymmetric(a: date, b: date) -> None:
    forward, provisional = CAL.working_days_between(a, b)
    assert CAL.working_days_between(b, a) == (-forward, provisional)


@given(anywhere, st.integers(1, 60))
def test_the_nth_working_day_after_start_is_n_working_days_away(start: date, n: int) -> None:
    deadline = CAL.add_working_days(start, n)
    assert CAL.is_working_day(deadline.due)
    assert CAL.working_days_between(start, deadline.due) == (n, deadline.provisional)


@given(anywhere)
def test_same_day_deadline_is_the_first_working_day_from_start(start: date) -> None:
    due = CAL.add_working_days(start, 0).due
    assert CAL.is_working_day(due)
    days = (due - start).days
    assert all(not CAL.is_working_day(start + timedelta(days=i)) for i in range(days))
