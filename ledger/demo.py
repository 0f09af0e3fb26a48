"""Realistic demo data: cases along every lifecycle path of DOMAIN.md, through the real write path.

Each case starts on a recent working day and its steps happen at plausible office hours; the
service's clock is moved for each step so business times (``occurred_at``) are spread like real
work, while the store still stamps its own ``recorded_at``. Identifiers carry valid check digits.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import msgspec

from ledger import commands as c
from ledger.demo_people import Cast, Payers
from ledger.domain.actor import Actor
from ledger.domain.codes import (
    AssigningBody,
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    Satisfaction,
)
from ledger.domain.context import SHANGHAI
from ledger.domain.payer import Assignment, Party, Payer
from ledger.service import LedgerService


@dataclass
class DemoSummary:
    cases: int = 0
    events: int = 0  # of the cases' commands
    meetings: int = 0
    # Appended besides the commands: the meetings' events and their decisions on cases.
    meeting_events: int = 0
    paths: Counter[str] = field(default_factory=Counter)


class _Case:
    """One demo case being driven through its path, with its own clock."""

    def __init__(self, run: _Run, day: date) -> None:
        self.run, self.day = run, day
        self.now = datetime.combine(day, time(9, run.rng.randrange(0, 50)), SHANGHAI)
        self.case_id: UUID | None = None
        self.version = 0

    def later(self, *, minutes: int = 0, working_days: int = 0) -> None:
        if working_days:
            due = self.run.service.context.calendar.add_working_days(self.now.date(), working_days)
            self.now = datetime.combine(due.due, time(9, self.run.rng.randrange(0, 50)), SHANGHAI)
        self.now += timedelta(minutes=minutes)

    async def register(self, staff: str, command: c.Register) -> None:
        self.run.service.clock = lambda: self.now
        result = await self.run.service.register(self.run.cast.actor(staff), command)
        self.case_id, self.version = result.case_id, result.version
        self.run.summary.events += 1

    async def do(self, staff: str, command: c.Command, *, minutes: int = 25) -> None:
        assert self.case_id is not None
        self.later(minutes=minutes)
        self.run.service.clock = lambda: self.now
        actor = self.run.cast.actor(staff)
        result = await self.run.service.execute(self.case_id, actor, command, self.version)
        self.version = result.version
        self.run.summary.events += result.last_position - result.first_position + 1


@dataclass
class _Run:
    service: LedgerService
    rng: random.Random
    cast: Cast
    payers: Payers
    summary: DemoSummary
    notices: int = 0
    handed_down: bool = False  # a matter assigned after its registration is on record

    def registration(
        self,
        case: _Case,
        category: Category,
        summary: str,
        *,
        employer: bool = False,
        channel: Channel | None = None,
        jurisdiction: str | None = None,
        payer: Payer | None = None,
        against: Party | None = None,
    ) -> c.Register:
        """The registration of ``case``; ``employer``: the payer is an employer, else a person;
        ``against``: the employer a person's dispute is with (职工与用人单位, R1)."""
        received = case.now - timedelta(minutes=self.rng.randrange(5, 40))
        return c.Register(
            channel=channel or self.rng.choice(_EVERYDAY_CHANNELS),
            received_at=received,
            payer=payer or (self.payers.employer() if employer else self.payers.person()),
            jurisdiction=jurisdiction or self.rng.choice(self.payers.jurisdictions),
            category=category,
            summary=summary,
            preliminary_opinion=self.rng.choice(PRELIMINARY_OPINIONS),
            employer=against,
        )

    def employer_party(self) -> Party:
        """An employer named as the other party of a dispute (name, credit code)."""
        employer = self.payers.employer()
        return Party(name=employer.name, credit_code=employer.identifier)

    def document_number(self, case: _Case) -> str:
        """A demand notice's 文书号, numbered within its year."""
        self.notices += 1
        return f"潜税社费催〔{case.now.year}〕{self.notices}号"


# Channels a path may draw at random: petitions keep the time limits of 信访工作条例, which the
# other paths' steps (and extensions) are not timed for; ``_petition`` shows them.
_EVERYDAY_CHANNELS = [ch for ch in Channel if ch is not Channel.PETITION_PLATFORM]

PRELIMINARY_OPINIONS = [
    "事实较清楚，建议按一般事项转相关部门办理",
    "需核实缴费记录后答复",
    "建议当场解释政策并办结",
    "涉及多部门职责，建议提请领导小组研究",
    "建议转有管辖权的辖区处理",
]


async def _simple(run: _Run, case: _Case) -> None:
    await case.register(
        "intake_hall",
        run.registration(
            case, Category.PAYMENT, "缴费人反映电子税务局无法申报本月社保费，询问原因"
        ),
    )
    await case.do(
        "intake_hall",
        c.Classify(
            classification=Classification.SIMPLE, route=1, reason="系统操作问题，可当场解决"
        ),
    )
    await case.do(
        "intake_hall",
        c.Decide(
            outcome=DecisionOutcome.RESOLVED, finding="指导缴费人清除缓存后重新申报，申报成功"
        ),
    )
    await case.do(
        "intake_hall",
        c.GiveFeedback(
            channel=Channel.SERVICE_WINDOW,
            content="已当场办结，申报成功",
            satisfaction=Satisfaction.SATISFIED,
        ),
        minutes=5,
    )
    await case.do("intake_hall", c.Close(summary="简易事项当场办结"), minutes=2)


async def _general(run: _Run, case: _Case, *, reopen: bool = False) -> None:
    await case.register(
        "intake_hall",
        run.registration(
            case, Category.PAYMENT_RECORD, "职工反映2023年度部分月份养老保险缴费记录缺失"
        ),
    )
    await case.do(
        "intake_hall",
        c.Classify(classification=Classification.GENERAL, route=2, reason="需人社部门核实缴费记录"),
    )
    await case.do(
        "intake_hall",
        c.Transfer(to_unit="hrss.window", reason="缴费记录核实属人社部门职责，转人社服务窗口办理"),
    )
    case.later(working_days=run.rng.choice([0, 1]), minutes=run.rng.randrange(30, 240))
    await case.do("handler_hrss", c.Accept(note="已签收"))
    case.later(working_days=run.rng.randrange(1, 6))
    await case.do(
        "handler_hrss",
        c.Decide(outcome=DecisionOutcome.UPHELD, finding="经核实，单位漏报3个月，已通知单位补报"),
    )
    satisfaction = Satisfaction.UNSATISFIED if reopen else Satisfaction.SATISFIED
    await case.do(
        "handler_hrss",
        c.GiveFeedback(
            channel=Channel.DEPARTMENT_HOTLINE,
            content="电话告知核实结果及补缴安排",
            satisfaction=satisfaction,
        ),
        minutes=60,
    )
    await case.do("handler_hrss", c.Close(summary="已核实并督促单位补报"), minutes=10)
    case.later(working_days=2)
    if not reopen:
        await _follow_up(run, case)
        return
    await case.do(
        "handler_hrss",
        c.FollowUp(
            channel=Channel.DEPARTMENT_HOTLINE,
            content="回访：单位至今未补报，缴费人不满意",
            satisfaction=Satisfaction.UNSATISFIED,
        ),
    )
    await case.do("office", c.Reopen(reason="回访不满意：单位至今未补报"), minutes=90)
    case.later(working_days=3)
    await case.do(
        "handler_hrss",
        c.Decide(outcome=DecisionOutcome.UPHELD, finding="单位已补报并缴纳，缴费记录已补齐"),
    )
    await case.do(
        "handler_hrss",
        c.GiveFeedback(
            channel=Channel.DEPARTMENT_HOTLINE,
            content="告知记录已补齐",
            satisfaction=Satisfaction.SATISFIED,
        ),
    )
    await case.do("handler_hrss", c.Close(summary="重新办理后办结"))
    run.summary.paths["reopened"] += 1


async def _follow_up(run: _Run, case: _Case) -> None:
    """A follow-up visit (回访) after closure: mostly satisfied; an unsatisfied one is left
    flagged for the office, or the office records why the case is not reopened."""
    draw = run.rng.random()
    unsatisfied = draw < 0.4
    await case.do(
        "handler_hrss",
        c.FollowUp(
            channel=Channel.DEPARTMENT_HOTLINE,
            content="回访：对补缴安排仍有疑问" if unsatisfied else "回访：记录已补齐，表示满意",
            satisfaction=Satisfaction.UNSATISFIED if unsatisfied else Satisfaction.SATISFIED,
        ),
    )
    run.summary.paths["follow_up_unsatisfied" if unsatisfied else "follow_up_satisfied"] += 1
    if unsatisfied and draw < 0.2:
        await case.do(
            "office",
            c.ResolveFollowUp(reason="已再次解释补缴安排，属政策咨询，不予重新办理"),
            minutes=120,
        )
        run.summary.paths["follow_up_resolved"] += 1


async def _major(run: _Run, case: _Case) -> None:
    await case.register(
        "intake_hall",
        run.registration(
            case,
            Category.EMPLOYEE_EMPLOYER,
            "多名职工反映单位按最低基数申报社保费，与实际工资不符",
            employer=True,
        ),
    )
    await case.do(
        "intake_hall",
        c.Classify(classification=Classification.GENERAL, route=3, reason="涉及缴费基数"),
    )
    # Found to be cross-department: reclassified as major, with the office's approval (R10).
    await case.do(
        "intake_hall",
        c.Reclassify(
            classification=Classification.MAJOR, route=3, reason="涉及多名职工、跨部门，属重大疑难"
        ),
    )
    await case.do("office", c.Reclassify(approve=True, reason="同意按重大疑难事项办理"))
    await case.do("intake_hall", c.Escalate(reason="跨部门重大疑难事项，提请领导小组研究"))
    case.later(working_days=2)
    await case.do(
        "office",
        c.Consult(
            units=("tax.sif", "hrss.social_insurance", "hrss.arbitration"),
            outcome="三部门在派出机构会商，责令单位据实申报",
        ),
    )
    case.later(working_days=5)
    until = case.now.date() + timedelta(days=90)  # well past the 30-working-day deadline
    await case.do("office", c.Extend(until=until, reason="单位需提供全年工资台账，申请延期"))
    await case.do("office", c.Extend(approve=True, reason="同意延期"), minutes=30)
    case.later(working_days=8)
    await case.do(
        "office",
        c.Decide(
            outcome=DecisionOutcome.PARTIALLY_UPHELD,
            finding="单位自2024年1月起按实际工资调整基数并补缴差额",
            amount=run.payers.amount(20_000, 200_000),
        ),
    )
    await case.do(
        "office",
        c.GiveFeedback(
            channel=Channel.VISIT, content="向职工代表当面反馈", satisfaction=Satisfaction.SATISFIED
        ),
    )
    await case.do("office", c.Close(summary="领导小组会商后办结"))


async def _enforcement(run: _Run, case: _Case) -> None:
    # An employee's dispute with the employer (二(一)2): the employer is named at registration,
    # and the demand notice (with its 文书号) and the referral are against it.
    await case.register(
        "intake_branch",
        run.registration(
            case,
            Category.EMPLOYEE_EMPLOYER,
            "职工反映单位长期欠缴社会保险费，影响退休待遇",
            channel=Channel.HOTLINE_12345,
            against=run.employer_party(),
        ),
    )
    await case.do(
        "intake_branch",
        c.Classify(
            classification=Classification.GENERAL, route=5, reason="欠费事实清楚，拟走强制执行程序"
        ),
    )
    case.later(working_days=1)
    await case.do(
        "intake_branch", c.Decide(outcome=DecisionOutcome.UPHELD, finding="经核查单位欠缴事实清楚")
    )
    arrears = run.payers.amount(50_000, 500_000)
    await case.do(
        "enforcement",
        c.ServeDemandNotice(
            served_at=case.now, amount=arrears, document_number=run.document_number(case)
        ),
    )
    await case.do(
        "enforcement",
        c.ConfirmArrears(
            amount=arrears, period_from=date(2024, 1, 1), period_to=date(2024, 12, 31)
        ),
    )
    case.later(working_days=10)
    await case.do(
        "enforcement", c.ReferToCourt(court="潜江市人民法院", reason="催告期满仍未履行缴费义务")
    )
    case.later(working_days=10)
    await case.do(
        "enforcement", c.RecordCourtOutcome(outcome="准予强制执行", detail="法院裁定准予强制执行")
    )
    await case.do(
        "intake_branch",
        c.GiveFeedback(
            channel=Channel.HOTLINE_12345,
            content="告知已申请法院强制执行并获准",
            satisfaction=Satisfaction.SATISFIED,
        ),
    )
    await case.do("intake_branch", c.Close(summary="经法院强制执行程序办结"))


async def _out_of_jurisdiction(run: _Run, case: _Case) -> None:
    home, other = run.rng.sample(run.payers.jurisdictions, 2)
    await case.register(
        "intake_hall",
        run.registration(
            case,
            Category.ASSESSMENT,
            "对医保部门核定的灵活就业人员应缴费额有异议",
            jurisdiction=home,
        ),
    )
    await case.do(
        "intake_hall",
        c.Classify(classification=Classification.GENERAL, route=2, reason="非本辖区事项"),
    )
    await case.do("intake_hall", c.Transfer(to_jurisdiction=other, reason="事项所在地属他辖区"))
    case.later(working_days=1)
    run.cast.station_jurisdiction = other
    await case.do("handler_station", c.Accept(note="辖区签收"))
    case.later(working_days=3)
    await case.do(
        "handler_station",
        c.Decide(outcome=DecisionOutcome.REJECTED, finding="核定依据正确，不予调整"),
    )
    await case.do(
        "handler_station",
        c.GiveFeedback(
            channel=Channel.WECHAT, content="告知核定依据", satisfaction=Satisfaction.UNKNOWN
        ),
    )
    await case.do("handler_station", c.Close(summary="辖区处理办结"))


async def _hanging(run: _Run, case: _Case) -> None:
    """Transferred and accepted, then nothing: 久拖不决 (FR9) for an inspector to find."""
    await case.register(
        "intake_medical",
        run.registration(
            case,
            Category.SERVICE,
            "对医保经办窗口服务态度不满意",
            channel=Channel.HOTLINE_12345,
        ),
    )
    await case.do(
        "intake_medical",
        c.Classify(classification=Classification.GENERAL, route=6, reason="服务投诉"),
    )
    await case.do("intake_medical", c.Transfer(to_unit="hrss.window", reason="误转人社"))
    case.later(working_days=1)
    await case.do("handler_hrss", c.Accept(note="签收"))
    # 推诿: sent back to where it came from (FR6).
    await case.do("handler_hrss", c.Transfer(to_unit="medical.window", reason="非本单位职责"))
    await case.do("handler_medical", c.Accept(note="签收"), minutes=240)
    await case.do("office", c.Urge(reason="超期未办结，请加快办理"), minutes=60 * 24 * 14)


async def _orphan_and_repeat(run: _Run, case: _Case) -> None:
    """Transferred and never accepted (FR5); the payer comes back again (FR7), then linked."""
    payer = run.payers.person()
    await case.register(
        "intake_hall",
        run.registration(case, Category.PAYMENT, "申请退还重复缴纳的城乡居民医保费", payer=payer),
    )
    await case.do(
        "intake_hall", c.Classify(classification=Classification.GENERAL, route=2, reason="退费事项")
    )
    await case.do("intake_hall", c.Transfer(to_unit="medical.window", reason="退费审核属医保"))
    first = case.case_id
    again = _Case(run, run.cast.calendar_after(case.day, 3))
    await again.register(
        "intake_medical",
        run.registration(
            again, Category.PAYMENT, "再次来访：重复缴纳的医保费仍未退还", payer=payer
        ),
    )
    if run.rng.random() < 0.5 and first is not None:
        await again.do("intake_medical", c.Link(case_id=first, relation=LinkRelation.DUPLICATE))
        run.summary.paths["repeat_trip_linked"] += 1
    run.summary.cases += 1


async def _petition(run: _Run, case: _Case) -> None:
    """From the petition platform (信访): decided whether to accept within 15 days, concluded
    within 60 days of acceptance, extended (by at most 30 days, 信访工作条例). The first one is
    also handed down by the petition office after it was registered (登记交办), which is owed a
    reply by the date it set."""
    await case.register(
        "intake_hall",
        run.registration(
            case,
            Category.ASSESSMENT,
            "信访平台转来：职工对核定的医保缴费基数有异议",
            channel=Channel.PETITION_PLATFORM,
        ),
    )
    handed_down = not run.handed_down
    if handed_down:
        run.handed_down = True
        received = case.now.date()
        assignment = Assignment(
            body=AssigningBody.PETITION_OFFICE,
            body_name="潜江市信访局",
            reference=f"潜信交〔{received.year}〕3号",
            reply_due=run.service.context.calendar.add_working_days(received, 15).due,
        )
        await case.do("office", c.RecordAssignment(assignment=assignment), minutes=90)
    case.later(working_days=run.rng.choice([1, 3, 11]))  # 11 working days: past the 15 days
    await case.do(
        "intake_hall",
        c.Classify(classification=Classification.GENERAL, route=2, reason="受理：按职责核定"),
    )
    accepted = case.now.date()  # 60 days from here; extended, not past 90
    await case.do("intake_hall", c.Transfer(to_unit="hrss.window", reason="核定基数属人社"))
    await case.do("handler_hrss", c.Accept(note="签收"), minutes=120)
    case.later(working_days=3)
    until = accepted + timedelta(days=80)
    await case.do("handler_hrss", c.Extend(until=until, reason="需调取单位工资台账，情况复杂"))
    await case.do("office", c.Extend(approve=True, reason="同意延期"), minutes=180)
    case.later(working_days=4)
    await case.do(
        "handler_hrss",
        c.Decide(outcome=DecisionOutcome.PARTIALLY_UPHELD, finding="部分月份基数核定有误，已更正"),
    )
    if handed_down:
        await case.do(
            "handler_hrss",
            c.ReplyToAssignment(content="经核实，部分月份缴费基数已更正，特此回复信访局"),
        )
    await case.do(
        "handler_hrss",
        c.GiveFeedback(channel=Channel.PETITION_PLATFORM, content="通过信访平台答复处理意见"),
    )
    await case.do("handler_hrss", c.Close(summary="信访事项办结"))


async def _assigned(run: _Run, case: _Case) -> None:
    """Assigned by another body (交办/转办, 二(二)3), which is owed a reply by the date it set:
    usually in time, sometimes late (a finding for an inspector)."""
    body = run.rng.choice(list(AssigningBody))
    received = case.now.date()
    registration = run.registration(
        case,
        Category.PAYMENT,
        "市政府交办：企业反映申请退还多缴社保费逾期未退",
        employer=True,
        channel=Channel.ASSIGNED,
    )
    assignment = Assignment(
        body=body,
        body_name={AssigningBody.LEADING_GROUP: "领导小组办公室"}.get(body, "潜江市人民政府办公室"),
        reference=f"潜政交〔{received.year}〕{run.rng.randrange(1, 90)}号",
        reply_due=run.service.context.calendar.add_working_days(received, 5).due,
    )
    await case.register("intake_hall", msgspec.structs.replace(registration, assignment=assignment))
    await case.do(
        "intake_hall",
        c.Classify(classification=Classification.GENERAL, route=2, reason="退费事项，按职责办理"),
    )
    await case.do("intake_hall", c.Transfer(to_unit="medical.window", reason="退费审核属医保"))
    await case.do("handler_medical", c.Accept(note="签收"), minutes=90)
    case.later(working_days=run.rng.choice([1, 2, 3, 7]))  # 7: after the date the body set
    await case.do(
        "handler_medical",
        c.Decide(outcome=DecisionOutcome.UPHELD, finding="多缴属实，已办理退费"),
    )
    await case.do(
        "handler_medical",
        c.ReplyToAssignment(content="经核实，多缴费用已退还企业账户，特此回复"),
        minutes=60,
    )
    await case.do(
        "handler_medical",
        c.GiveFeedback(channel=Channel.DEPARTMENT_HOTLINE, content="电话告知已退费"),
    )
    await case.do("handler_medical", c.Close(summary="已退费并回复交办机关"))


async def _repeat_elsewhere(run: _Run, case: _Case) -> None:
    """多头跑: closed with the payer unsatisfied, the payer comes back within the window through
    another channel about another matter, and nobody links the two (FR7)."""
    payer = run.payers.person()
    await case.register(
        "intake_hall",
        run.registration(
            case,
            Category.PAYMENT,
            "咨询灵活就业人员养老保险缴费档次",
            channel=Channel.SERVICE_WINDOW,
            payer=payer,
        ),
    )
    await case.do(
        "intake_hall", c.Classify(classification=Classification.SIMPLE, route=2, reason="政策咨询")
    )
    await case.do(
        "intake_hall", c.Decide(outcome=DecisionOutcome.RESOLVED, finding="当场解释缴费档次")
    )
    await case.do(
        "intake_hall",
        c.GiveFeedback(
            channel=Channel.SERVICE_WINDOW,
            content="当场告知",
            satisfaction=Satisfaction.UNSATISFIED,
        ),
        minutes=5,
    )
    await case.do("intake_hall", c.Close(summary="当场办结"), minutes=2)
    again = _Case(run, run.cast.calendar_after(case.day, 6))
    await again.register(
        "intake_medical",
        run.registration(
            again,
            Category.SERVICE,
            "12345来电：对窗口答复不满意，要求重新说明缴费档次",
            channel=Channel.HOTLINE_12345,
            payer=payer,
        ),
    )
    run.summary.cases += 1


async def _meeting(run: _Run, case: _Case) -> None:
    """A major case escalated and put before a joint meeting (联席会议, 四): two decisions,
    tasks of two units — one done on time, one left overdue (a TASK finding) — and the
    meeting reported up to the leading group (上报)."""
    from ledger.domain.meeting import MeetingKind
    from ledger.meetings import Convene, Decision, Meetings, RecordMinutes, ReportUp
    from ledger.service import RequestMeta

    await case.register(
        "intake_hall",
        run.registration(
            case,
            Category.EMPLOYEE_EMPLOYER,
            "多名职工反映单位停缴社会保险费，涉及参保登记与欠费",
            employer=True,
        ),
    )
    await case.do(
        "intake_hall",
        c.Classify(classification=Classification.MAJOR, route=4, reason="跨部门重大疑难事项"),
    )
    await case.do("intake_hall", c.Escalate(reason="提请领导小组联席会议研究"))
    assert case.case_id is not None
    meetings, office = Meetings(run.service), run.cast.actor("office")
    case.later(working_days=2)
    scheduled = case.now
    convened = await meetings.convene(
        office,
        Convene(
            kind=MeetingKind.JOINT_MEETING,
            scheduled_at=scheduled,
            units=("tax.sif", "hrss.window", "medical.window"),
            agenda=(case.case_id,),
        ),
        RequestMeta(),
    )
    meeting = convened.meeting
    case.later(minutes=120)
    calendar = run.service.context.calendar
    on_time = calendar.add_working_days(case.now.date(), 3).due
    late = calendar.add_working_days(case.now.date(), 5).due
    await meetings.record_minutes(
        meeting.id,
        office,
        RecordMinutes(
            attendees=("tax.sif", "hrss.window", "medical.window"),
            attendee_names=("周建国", "张伟", "刘洋"),
            minutes="会议研究单位停缴社会保险费问题，明确各部门职责分工",
            decisions=(
                Decision(
                    case_id=case.case_id,
                    decision="人社窗口核实职工参保登记情况",
                    assigned_unit="hrss.window",
                    due=on_time,
                ),
                Decision(
                    case_id=case.case_id,
                    decision="医保窗口核查医保费欠缴明细",
                    assigned_unit="medical.window",
                    due=late,
                ),
            ),
        ),
        1,
    )
    case.version += 2
    case.later(minutes=60)
    await meetings.report(
        meeting.id,
        office,
        ReportUp(content="向领导小组报告联席会议议定事项及分工"),
        2,
    )
    run.summary.meetings += 1
    run.summary.meeting_events += 3 + 2
    case.later(working_days=2)
    await case.do(
        "handler_hrss",
        c.CompleteTask(meeting_id=meeting.id, decision_no=1, result="已核实：12名职工未参保登记"),
    )


PATHS: dict[str, Callable[[_Run, _Case], Awaitable[None]]] = {
    "simple_on_the_spot": _simple,
    "general_transferred": _general,
    "reopened_after_unsatisfied": lambda run, case: _general(run, case, reopen=True),
    "major_leading_group": _major,
    "court_enforcement": _enforcement,
    "out_of_jurisdiction": _out_of_jurisdiction,
    "left_hanging_ping_pong": _hanging,
    "orphan_and_repeat_trip": _orphan_and_repeat,
    "joint_meeting_tasks": _meeting,
    "petition_platform": _petition,
    "assigned_with_reply": _assigned,
    "repeat_trip_elsewhere": _repeat_elsewhere,
}


async def load_demo(service: LedgerService, cases: int = 60, seed: int = 2024) -> DemoSummary:
    """Register ``cases`` demo cases (at least one per lifecycle path) through ``service``."""
    rng = random.Random(seed)
    summary = DemoSummary()
    clock = service.clock
    run = _Run(service, rng, Cast(service.context), Payers(rng, service.context), summary)
    names = list(PATHS)
    try:
        for i in range(cases):
            name = names[i] if i < len(names) else rng.choice(names)
            day = run.cast.recent_working_day(rng, today=clock().astimezone(SHANGHAI).date())
            await PATHS[name](run, _Case(run, day))
            summary.cases += 1
            summary.paths[name] += 1
    finally:
        service.clock = clock
    return summary


async def long_case(service: LedgerService, events: int, *, seed: int = 1) -> UUID:
    """One case of exactly ``events`` events, one per command, through ``service`` and its rules:
    registered, classified, then cycles of urge ×2, consult, decide, feedback, close, reopen — a
    long-running, repeatedly reopened dispute (for snapshots and replay at length)."""
    cast = Cast(service.context)
    payers = Payers(random.Random(seed), service.context)
    now = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)
    clock = service.clock
    service.clock = lambda: now
    clerk, office = cast.actor("intake_hall"), cast.actor("office")
    cycle: list[tuple[Actor, c.Command]] = [
        (office, c.Urge(reason="超期未办结，请加快办理")),
        (office, c.Urge(reason="再次催办，请于三个工作日内反馈进展")),
        (clerk, c.Consult(units=("tax.sif", "hrss.social_insurance"), outcome="会商核定基数")),
        (clerk, c.Decide(outcome=DecisionOutcome.UPHELD, finding="经核实，单位少报缴费基数")),
        (
            clerk,
            c.GiveFeedback(
                channel=Channel.SERVICE_WINDOW,
                content="当面告知核实结果及补缴安排",
                satisfaction=Satisfaction.UNSATISFIED,
            ),
        ),
        (clerk, c.Close(summary="已核实并督促单位补缴")),
        (office, c.Reopen(reason="回访不满意：单位至今未补缴")),
    ]
    try:
        result = await service.register(
            clerk,
            c.Register(
                channel=Channel.SERVICE_WINDOW,
                received_at=now - timedelta(minutes=20),
                payer=payers.employer(),
                jurisdiction="qj.yuanlin",
                category=Category.EMPLOYEE_EMPLOYER,
                summary="多名职工反映单位长期按最低基数申报社保费，要求核实并补缴",
                preliminary_opinion="涉及多部门职责，建议提请领导小组研究",
            ),
        )
        case_id, version = result.case_id, result.version
        now += timedelta(hours=1)
        classify = c.Classify(
            classification=Classification.GENERAL, route=2, reason="需核实缴费基数"
        )
        version = (await service.execute(case_id, clerk, classify, version)).version
        n = 0
        while version < events:
            actor, command = cycle[n % len(cycle)]
            n += 1
            now += timedelta(hours=3)
            version = (await service.execute(case_id, actor, command, version)).version
        return case_id
    finally:
        service.clock = clock
