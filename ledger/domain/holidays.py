"""The statutory holidays of a year by computation (《全国年节及纪念日放假办法》).

For years the official calendar data does not hold yet, :class:`~ledger.domain.calendar.
WorkingCalendar` still knows which days the law itself makes holidays: the fixed-date ones (元旦,
劳动节, 国庆节) and the lunar ones (春节, 清明节, 端午节, 中秋节), computed with ``lunar_python``
(the 寿星天文历 algorithm: new moons and solar terms, Beijing time). What only the State Council's
yearly notice says — the make-up working weekends (调休) and the weekdays bridged into a holiday
week — stays unknown: such a year remains provisional.

The measures changed over time; each version applies from the day it took effect:

============  ===========================  =====================================================
in force      document                     holidays
============  ===========================  =====================================================
1949-12-23    政务院                       元旦 1; 春节 正月初一–初三; 劳动节 5/1; 国庆 10/1–10/2
1999-09-18    国务院令第270号              劳动节 5/1–5/3; 国庆 10/1–10/3
2008-01-01    国务院令第513号              春节 除夕–正月初二; 劳动节 5/1; 清明, 端午, 中秋 1 each
2014-01-01    国务院令第644号              春节 正月初一–初三
2025-01-01    国务院令第795号              春节 除夕–正月初三; 劳动节 5/1–5/2
============  ===========================  =====================================================

Before 1949-12-23 no day is known to be a holiday.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

from lunar_python import Lunar

__all__ = ["statutory_holidays"]

NEW_YEAR = "元旦"
SPRING_FESTIVAL = "春节"
TOMB_SWEEPING = "清明节"
LABOUR_DAY = "劳动节"
DRAGON_BOAT = "端午节"
MID_AUTUMN = "中秋节"
NATIONAL_DAY = "国庆节"
# In the order of the year, for the name of a day two holidays share (2020-10-01: 国庆节、中秋节).
_ORDER = (
    NEW_YEAR,
    SPRING_FESTIVAL,
    TOMB_SWEEPING,
    LABOUR_DAY,
    DRAGON_BOAT,
    MID_AUTUMN,
    NATIONAL_DAY,
)


def _lunar(year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    # The solar term 清明 of lunar year ``year`` falls in April of the same Gregorian year.
    solar = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _spring(first: int, last: int) -> Callable[[int], list[date]]:
    """春节 from lunar 正月 ``first`` to ``last`` (0: 除夕, the last day of the year before)."""

    def days(year: int) -> list[date]:
        new_year = _lunar(year, 1, 1)
        return [new_year + timedelta(days=n - 1) for n in range(first, last + 1)]

    return days


def _fixed(month: int, *days: int) -> Callable[[int], list[date]]:
    return lambda year: [date(year, month, day) for day in days]


def _lunar_day(month: int, day: int) -> Callable[[int], list[date]]:
    return lambda year: [_lunar(year, month, day)]


_Rules = dict[str, Callable[[int], list[date]]]
_1949: _Rules = {
    NEW_YEAR: _fixed(1, 1),
    SPRING_FESTIVAL: _spring(1, 3),
    LABOUR_DAY: _fixed(5, 1),
    NATIONAL_DAY: _fixed(10, 1, 2),
}
_1999: _Rules = {**_1949, LABOUR_DAY: _fixed(5, 1, 2, 3), NATIONAL_DAY: _fixed(10, 1, 2, 3)}
_2007: _Rules = {
    **_1999,
    SPRING_FESTIVAL: _spring(0, 2),
    TOMB_SWEEPING: lambda year: [_qingming(year)],
    LABOUR_DAY: _fixed(5, 1),
    DRAGON_BOAT: _lunar_day(5, 5),
    MID_AUTUMN: _lunar_day(8, 15),
}
_2013: _Rules = {**_2007, SPRING_FESTIVAL: _spring(1, 3)}
_2024: _Rules = {**_2013, SPRING_FESTIVAL: _spring(0, 3), LABOUR_DAY: _fixed(5, 1, 2)}

# (first day in force, rules), oldest first.
_VERSIONS: tuple[tuple[date, _Rules], ...] = (
    (date(1949, 12, 23), _1949),
    (date(1999, 9, 18), _1999),
    (date(2008, 1, 1), _2007),
    (date(2014, 1, 1), _2013),
    (date(2025, 1, 1), _2024),
)


@lru_cache(maxsize=256)
def statutory_holidays(year: int) -> Mapping[date, str]:
    """The days of ``year`` that the measures in force make holidays, with the holiday's name
    (two names joined by "、" on a day two holidays share).

    Weekend days are included when a holiday falls on one. Any year of ``datetime.date`` is
    answered (empty before 1949-12-23). For the years the official data holds, these days are
    among its days off.
    """
    found: dict[date, list[str]] = {}
    for i, (start, rules) in enumerate(_VERSIONS):
        end = _VERSIONS[i + 1][0] if i + 1 < len(_VERSIONS) else date.max
        if end.year < year or start.year > year:
            continue
        for name, days in rules.items():
            for day in days(year):
                if start <= day < end:
                    found.setdefault(day, []).append(name)
    return MappingProxyType(
        {day: "、".join(sorted(names, key=_ORDER.index)) for day, names in sorted(found.items())}
    )
