"""Working days on the official PRC calendar (DOMAIN.md "First-responder accountability checks").

Deadlines FR1–FR9 count **working days**: Monday–Friday, minus the statutory holidays, plus the
weekend days the State Council makes working days (调休). Where a day's status comes from, in
order (DOMAIN.md "The calendar runs out every year"):

1. ``chinesecalendar`` for the years it holds (1.11.0: 2004–2026; it raises ``NotImplementedError``
   beyond);
2. the deployment's :class:`HolidayTable` (a JSON file dropped in once the next year's
   arrangement is announced) for the years it covers;
3. otherwise Monday–Friday less the statutory holidays the law itself fixes (元旦, 劳动节, 国庆节
   by date; 春节, 清明节, 端午节, 中秋节 computed from the lunar calendar:
   :func:`ledger.domain.holidays.statutory_holidays`). The State Council's make-up working
   weekends (调休) and bridged weekdays of such a year are unknown, so every result that relied on
   it is marked *provisional*. Nothing here ever raises because a year is missing.

Counting convention ("within N working days after D"): the count starts the day *after* D, so
the deadline is the N-th working day after D. N = 0 means "the same working day": D itself when
D is a working day, else the next working day (a contact on a Saturday is due on Monday).

Each year is computed once into a prefix-sum table, so a query is a few list look-ups and a
bisection: the inspection bench replays a million events through these functions.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime

import chinese_calendar
import msgspec

from ledger.domain.holidays import statutory_holidays

__all__ = [
    "Deadline",
    "HolidayTable",
    "InvalidHolidayTable",
    "WorkingCalendar",
    "parse_holiday_table",
]


class InvalidHolidayTable(ValueError):
    """A holiday file that cannot be trusted to describe the years it claims."""


class HolidayTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One or more years of the State Council's holiday arrangement.

    ``holidays``: the days off (weekend days may be listed too; it changes nothing);
    ``workdays``: the Saturdays and Sundays that are working days (调休);
    ``years``: the years the table describes completely — for these years it is the authority.
    """

    years: frozenset[int]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.years:
            raise InvalidHolidayTable("holiday table: 'years' is empty")
        for year in sorted(self.years):
            if not 1900 <= year <= 2999:
                raise InvalidHolidayTable(f"holiday table: year {year} is out of range 1900-2999")
            # Every year has statutory holidays (元旦 at least); a covered year without any is a
            # year claimed by mistake, and would silently turn Monday–Friday into "official".
            if not any(d.year == year for d in self.holidays):
                raise InvalidHolidayTable(f"holiday table: year {year} lists no holidays")
        for field, days in (("holidays", self.holidays), ("workdays", self.workdays)):
            for d in sorted(days):
                if d.year not in self.years:
                    raise InvalidHolidayTable(
                        f"holiday table: {field} has {d.isoformat()}, outside the years it"
                        f" covers {sorted(self.years)}"
                    )
        both = self.holidays & self.workdays
        if both:
            raise InvalidHolidayTable(
                f"holiday table: {min(both).isoformat()} is listed both as holiday and workday"
            )
        for d in sorted(self.workdays):
            if d.weekday() < 5:
                raise InvalidHolidayTable(
                    f"holiday table: workday {d.isoformat()} is a {d:%A}; workdays lists only"
                    " Saturdays and Sundays that are working days (调休)"
                )


def parse_holiday_table(data: bytes) -> HolidayTable:
    """Read ``{"years": [2027], "holidays": ["2027-01-01", ...], "workdays": [...]}``.

    Unknown fields, malformed dates and inconsistent content raise :class:`InvalidHolidayTable`
    with the JSON path or date at fault.
    """
    try:
        return msgspec.json.decode(data, type=HolidayTable)
    except msgspec.ValidationError as exc:
        message = str(exc)
        prefix = "" if message.startswith("holiday table") else "holiday table: "
        raise InvalidHolidayTable(prefix + message) from None
    except msgspec.DecodeError as exc:
        raise InvalidHolidayTable(f"holiday table: not valid JSON ({exc})") from None


class Deadline(msgspec.Struct, frozen=True):
    """A due date; ``provisional`` when a year without an official calendar was counted."""

    due: date
    provisional: bool


class _Year:
    """One year's working days: ``cumulative[i]`` = working days among days 0..i of the year."""

    __slots__ = ("cumulative", "first", "provisional", "total", "working")

    def __init__(self, year: int, working: list[bool], provisional: bool) -> None:
        self.first = date(year, 1, 1).toordinal()
        self.working = working
        self.provisional = provisional
        running, cumulative = 0, []
        for flag in working:
            running += flag
            cumulative.append(running)
        self.cumulative = cumulative
        self.total = running


_DEADLINE_CACHE = 16_384  # (start, n) pairs remembered per calendar: ~45 years of days × few n


def _package_knows(year: int) -> bool:
    # Probe the public API rather than its data tables: the supported range is whatever the
    # installed version says it is.
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _as_date(d: date) -> date:
    # A datetime is a date subclass, but its .date() in UTC can be the wrong calendar day
    # (R8 stores UTC): callers must convert to the Asia/Shanghai date themselves.
    if isinstance(d, datetime):
        raise TypeError("pass the Asia/Shanghai calendar date, not a datetime")
    return d


class WorkingCalendar:
    """The official working-day calendar, extended by an optional deployment holiday table."""

    def __init__(self, extra: HolidayTable | None = None) -> None:
        self._extra = extra
        self._years: dict[int, _Year] = {}
        # add_working_days per (start, n): a rebuild asks for the same few thousand pairs
        # millions of times. Bounded; a year's table never changes once built, so neither do
        # the answers (provisional ones included).
        self._deadlines: dict[tuple[date, int], Deadline] = {}

    def knows(self, year: int) -> bool:
        """True when ``year`` has an official arrangement (package or table), not a guess."""
        return not self._year(year).provisional

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        start = date(year, 1, 1)
        days = [date.fromordinal(start.toordinal() + i) for i in range(_days_in(year))]
        if _package_knows(year):
            # chinese_calendar.is_workday's rule over its own tables, without validating the
            # year again for every day (a rebuild builds decades of these at start).
            on, off = chinese_calendar.workdays, chinese_calendar.holidays
            working = [d in on or (d.weekday() < 5 and d not in off) for d in days]
            provisional = False
        elif self._extra is not None and year in self._extra.years:
            off, on = self._extra.holidays, self._extra.workdays
            working = [d in on or (d.weekday() < 5 and d not in off) for d in days]
            provisional = False
        else:
            statutory = statutory_holidays(year)
            working = [d.weekday() < 5 and d not in statutory for d in days]
            provisional = True
        built = _Year(year, working, provisional)
        self._years[year] = built  # a race only builds the same table twice
        return built

    def working_days_of(self, year: int) -> tuple[bool, ...]:
        """Whether each day of ``year`` is a working day, from 1 January on."""
        return tuple(self._year(year).working)

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (for a year without an official arrangement:
        Monday–Friday and not a statutory holiday, a provisional answer)."""
        d = _as_date(d)
        year = self._year(d.year)
        return year.working[d.toordinal() - year.first]

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The N-th working day after ``start``; for N = 0, ``start`` itself if it is a working
        day, else the next working day (see the module docstring). N < 0 is a ValueError."""
        if type(start) is date:
            found = self._deadlines.get((start, n))
            if found is not None:
                return found
        start = _as_date(start)
        if n < 0:
            raise ValueError(f"add_working_days: n must be >= 0, got {n}")
        deadline = self._add_working_days(start, n)
        if type(start) is date:
            if len(self._deadlines) >= _DEADLINE_CACHE:
                self._deadlines.clear()
            self._deadlines[(start, n)] = deadline
        return deadline

    def _add_working_days(self, start: date, n: int) -> Deadline:
        year = self._year(start.year)
        i = start.toordinal() - year.first
        if n == 0:
            # Count from just before start, so that start itself is the first candidate.
            before, need = year.cumulative[i] - year.working[i], 1
            provisional = year.provisional
        else:
            before, need = year.cumulative[i], n
            # Days of start's own year are counted only if start is not its last day.
            provisional = year.provisional and i + 1 < len(year.working)
        y = start.year
        while before + need > year.total:
            need -= year.total - before
            y, before = y + 1, 0
            year = self._year(y)
            provisional = provisional or year.provisional
        index = bisect_left(year.cumulative, before + need)
        return Deadline(due=date.fromordinal(year.first + index), provisional=provisional)

    def working_days_between(self, start: date, end: date) -> tuple[int, bool]:
        """Working days after ``start`` up to and including ``end``, and whether that count is
        provisional.

        ``end == start`` gives ``(0, False)``. ``end < start`` gives the negative of the count
        from ``end`` to ``start``, so that ``between(a, b) == -between(b, a)``: a negative result
        means "that many working days before".
        """
        start, end = _as_date(start), _as_date(end)
        if end == start:
            return 0, False
        if end < start:
            count, provisional = self.working_days_between(end, start)
            return -count, provisional
        count, provisional = 0, False
        for y in range(start.year, end.year + 1):
            year = self._year(y)
            lo = start.toordinal() - year.first + 1 if y == start.year else 0
            hi = end.toordinal() - year.first if y == end.year else len(year.working) - 1
            if lo > hi:  # start was the last day of its year
                continue
            count += year.cumulative[hi] - (year.cumulative[lo - 1] if lo else 0)
            provisional = provisional or year.provisional
        return count, provisional


def _days_in(year: int) -> int:
    return 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
