"""What the rules need to know besides the case itself: reference data, calendar and policy.

Passed into the commands that need it, so the aggregate stays a pure function of its events and
a deployment can change units, holidays and deadlines without touching the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from ledger.domain.calendar import Deadline, WorkingCalendar
from ledger.domain.codes import Channel, Classification
from ledger.domain.policy import DeadlinePolicy, RepeatWindow, petition_limit, resolution_deadline
from ledger.domain.reference import DEFAULT_REFERENCE, ReferenceData

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar date in Asia/Shanghai: working days are counted where the case happens."""
    return moment.astimezone(SHANGHAI).date()


@dataclass(frozen=True)
class Context:
    reference: ReferenceData = DEFAULT_REFERENCE
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    policy: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    repeat_window: RepeatWindow = field(default_factory=RepeatWindow)  # FR7

    def policy_deadline(self, received_on: date, classification: Classification) -> Deadline:
        """FR9: the date by which a matter of this class must be finished."""
        return resolution_deadline(self.policy, self.calendar, received_on, classification)

    def case_deadline(
        self,
        channel: Channel,
        received_on: date,
        accepted_on: date,
        classification: Classification,
    ) -> Deadline:
        """The deadline a (re)classification sets (FR9, R9): the class limit counted from
        receipt, or for a petition-platform matter (信访) the conclusion limit of 信访工作条例
        counted from its acceptance (the first classification, ``accepted_on``)."""
        if channel is Channel.PETITION_PLATFORM:
            days = self.policy.petition_conclusion_days
            return petition_limit(self.calendar, accepted_on, days)
        return self.policy_deadline(received_on, classification)


@dataclass(frozen=True)
class Facts:
    """What a rule needs to know from beyond the case itself, looked up in the ledger by the
    service before the command runs (the domain does no I/O): which of the cases a command
    names exist, and the log positions of this case's own events."""

    existing_cases: frozenset[UUID] = frozenset()
    positions: frozenset[int] = frozenset()
