"""Statutory holidays computed from the law, for years the official calendar data lacks."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from chinese_calendar import Holiday

from ledger.domain.calendar import Deadline, WorkingCalendar
from ledger.domain.holidays import statutory_holidays

CAL = WorkingCalendar()
OFFICIAL_YEARS = range(2004, 2027)  # what chinesecalendar 1.11 holds
NAMES = {
    "元旦": Holiday.new_years_day,
    "春节": Holiday.spring_festival,
    "清明节": Holiday.tomb_sweeping_day,
    "劳动节": Holiday.labour_day,
    "端午节": Holiday.dragon_boat_festival,
    "中秋节": Holiday.mid_autumn_festival,
    "国庆节": Holiday.national_day,
}


def d(text: str) -> date:
    return date.fromisoformat(text)


def days(first: str, last: str) -> list[date]:
    start, end = d(first), d(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@pytest.mark.parametrize("year", OFFICIAL_YEARS)
def test_every_computed_holiday_is_that_holiday_in_the_official_data(year: int) -> None:
    computed = statutory_holidays(year)
    # 元旦 1, 劳动节 1-3, 国庆 3, 春节 3-4, and from 2008 清明, 端午, 中秋 one day each.
    assert len(computed) >= 7
    for day, names in computed.items():
        assert not chinese_calendar.is_workday(day), (day, names)
        on_holiday, official = chinese_calendar.get_holiday_detail(day)
        assert on_holiday
        if official is None:
            # A statutory day on a weekend that the year's notice did not name (端午 2012-06-23).
            assert day.weekday() >= 5, (day, names)
        else:
            assert official in {NAMES[name].value for name in names.split("、")}, (day, names)


@pytest.mark.parametrize("year", [2004, 2008, 2014, 2024, 2025, 2026])
def test_the_fixed_date_holidays_are_days_off_in_the_official_data(year: int) -> None:
    labour = {2004: 3, 2008: 1, 2014: 1, 2024: 1, 2025: 2, 2026: 2}[year]
    fixed = [date(year, 1, 1)]
    fixed += [date(year, 5, n) for n in range(1, labour + 1)]
    fixed += [date(year, 10, n) for n in (1, 2, 3)]
    computed = statutory_holidays(year)
    for day in fixed:
        assert day in computed
        assert not chinese_calendar.is_workday(day)
    assert date(year, 5, labour + 1) not in computed


def test_the_measures_of_2024_for_2027_and_later() -> None:
    # 国务院令第795号: 春节 除夕 to 正月初三 (2027-02-06 is 正月初一), 劳动节 two days.
    assert dict(statutory_holidays(2027)) == {
        d("2027-01-01"): "元旦",
        **dict.fromkeys(days("2027-02-05", "2027-02-08"), "春节"),
        d("2027-04-05"): "清明节",
        d("2027-05-01"): "劳动节",
        d("2027-05-02"): "劳动节",
        d("2027-06-09"): "端午节",
        d("2027-09-15"): "中秋节",
        **dict.fromkeys(days("2027-10-01", "2027-10-03"), "国庆节"),
    }
    # 2028: 正月初一 is 26 January; 中秋 falls on 3 October, a day of 国庆 too.
    assert dict(statutory_holidays(2028)) == {
        d("2028-01-01"): "元旦",
        **dict.fromkeys(days("2028-01-25", "2028-01-28"), "春节"),
        d("2028-04-04"): "清明节",
        d("2028-05-01"): "劳动节",
        d("2028-05-02"): "劳动节",
        d("2028-05-28"): "端午节",
        d("2028-10-01"): "国庆节",
        d("2028-10-02"): "国庆节",
        d("2028-10-03"): "中秋节、国庆节",
    }


def test_each_version_of_the_measures_applies_from_the_day_it_took_effect() -> None:
    # 1949: 春节 初一-初三, 劳动节 one day, 国庆 two; 1999-09-18: 国庆 three (劳动节 three
    # from 2000 on); 2008: 除夕 to 初二, 清明 端午 中秋; 2014: 初一 to 初三.
    assert statutory_holidays(1949) == {}
    assert list(statutory_holidays(1950)) == [
        d("1950-01-01"),
        *days("1950-02-17", "1950-02-19"),
        d("1950-05-01"),
        d("1950-10-01"),
        d("1950-10-02"),
    ]
    y1999 = statutory_holidays(1999)
    assert d("1999-05-01") in y1999
    assert d("1999-05-02") not in y1999
    assert d("1999-10-03") in y1999
    assert d("2000-05-03") in statutory_holidays(2000)
    spring_2008 = [day for day, name in statutory_holidays(2008).items() if name == "春节"]
    assert spring_2008 == days("2008-02-06", "2008-02-08")  # 除夕 2008-02-06
    spring_2014 = [day for day, name in statutory_holidays(2014).items() if name == "春节"]
    assert spring_2014 == days("2014-01-31", "2014-02-02")  # 正月初一 2014-01-31


def test_a_day_two_holidays_share_bears_both_names() -> None:
    assert statutory_holidays(2020)[d("2020-10-01")] == "中秋节、国庆节"


@pytest.mark.parametrize("year", [1, 1000, 1582, 1900, 1948, 2027, 2033, 2100, 2999, 9999])
def test_every_year_is_answered_without_a_crash(year: int) -> None:
    computed = statutory_holidays(year)
    assert all(day.year == year for day in computed)
    assert CAL.is_working_day(date(year, 12, 31)) == (
        date(year, 12, 31).weekday() < 5 and date(year, 12, 31) not in computed
    )
    assert not CAL.knows(year)


def test_every_year_from_1950_has_its_lunar_holidays_in_the_gregorian_year() -> None:
    for year in range(1950, 10000, 37):
        names = set(statutory_holidays(year).values())
        assert "春节" in names, year
        if year >= 2008:
            assert {"清明节", "端午节"} <= names, year
            assert names & {"中秋节", "中秋节、国庆节"}, year


# --- what the calendar makes of them: holidays known, 调休 unknown, still provisional -----------


def test_2027_statutory_holidays_are_days_off_but_provisional() -> None:
    assert not CAL.knows(2027)
    for day in statutory_holidays(2027):
        assert not CAL.is_working_day(day), day
    # Thursday 4 February 2027 + 1: 除夕 (Friday) to 初三 (Monday) are off.
    assert CAL.add_working_days(d("2027-02-04"), 1) == Deadline(d("2027-02-09"), True)
    # 中秋 Wednesday 15 September.
    assert CAL.add_working_days(d("2027-09-14"), 1) == Deadline(d("2027-09-16"), True)
    # 国庆 1-3 October (Friday to Sunday): the make-up days are not known, so Monday works.
    assert CAL.add_working_days(d("2027-09-30"), 1) == Deadline(d("2027-10-04"), True)
    # 劳动节 on Saturday and Sunday: whatever the notice will bridge is unknown too.
    assert CAL.is_working_day(d("2027-05-03"))


def test_before_the_official_data_the_measures_then_in_force_apply() -> None:
    assert not CAL.knows(2003)
    # 2003: 劳动节 1-3 May (Thursday to Saturday).
    assert CAL.add_working_days(d("2003-04-30"), 1) == Deadline(d("2003-05-05"), True)
