"""Random but valid work through the real write path: many cases, every kind of event.

Each step registers a case or tries one command on an existing case by a member of staff who may
plausibly give it (the holder's unit, the pending unit, the office, enforcement), joint
consultations (会商) among them; commands the rules refuse are simply skipped, so whatever is
recorded went through R1–R9. A few payers come back again and again, so repeat trips (FR7) and
links happen.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import UUID

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    Role,
    Satisfaction,
)
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand, InvalidTransition, RuleViolation
from ledger.domain.identifiers import make_credit_code
from ledger.domain.payer import Party
from tests.projections.support import Desk, new_identifier

INTAKE_UNITS = ("tax.hall", "tax.branch1", "medical.window", "gov.centre.guanghua")
HANDLER_UNITS = ("hrss.social_insurance", "hrss.window", "medical.agency", "tax.sif")
CONSULTED = ("hrss.social_insurance", "medical.agency", "tax.sif", "tax.legal")  # 会商
PLACES = ("qj.yuanlin", "qj.guanghua", "qj.zhouji", "qj.haokou")  # each has a 便民服务中心
REFUSED = (RuleViolation, InvalidTransition, InvalidCommand)
EMPLOYER = Party(name="潜江市兴达建筑工程有限公司", credit_code=make_credit_code(org="MA4900001"))


def staff(desk: Desk, unit: str, jurisdiction: str | None = None) -> Actor:
    roles = [Role.INTAKE, Role.HANDLER]
    if unit == desk.service.context.reference.leading_group_office:
        roles.append(Role.OFFICE)
    if unit == "tax.legal":
        roles.append(Role.ENFORCEMENT)
    reference = desk.service.context.reference
    return Actor(
        staff_id=f"S.{unit}",
        name=f"{unit}经办人",
        unit=unit,
        department=reference.department_of(unit),
        roles=tuple(roles),
        jurisdiction=jurisdiction or reference.unit(unit).jurisdiction,
    )


class Workload:
    def __init__(self, desk: Desk, rng: random.Random, payers: int = 4) -> None:
        self.desk, self.rng = desk, rng
        self.cases: list[UUID] = []
        self.payers = [new_identifier() for _ in range(payers)]

    async def run(
        self, steps: int, after_step: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        for _ in range(steps):
            await self.step()
            if after_step is not None:
                await after_step()

    async def step(self) -> None:
        rng, desk = self.rng, self.desk
        desk.later(minutes=rng.choice((5, 5, 30, 90, 60 * 20, 60 * 24 * 3)))
        if not self.cases or rng.random() < 0.2:
            unit = rng.choice(INTAKE_UNITS)
            self.cases.append(
                await desk.register(
                    staff(desk, unit),
                    received_before=timedelta(minutes=rng.choice((10, 10, 60 * 30, 60 * 24 * 4))),
                    identifier=rng.choice(self.payers) if rng.random() < 0.5 else None,
                    category=rng.choice((Category.PAYMENT, Category.SERVICE)),
                    jurisdiction=rng.choice(PLACES),
                )
            )
            return
        case_id = rng.choice(self.cases)
        case = await desk.service.load(case_id)
        actor, command = self._command(case)
        with contextlib.suppress(*REFUSED):
            await desk.do(case_id, actor, command)

    def _command(self, case: Dispute) -> tuple[Actor, c.Command]:
        rng, desk = self.rng, self.desk
        holder = staff(desk, case.holder)
        office = staff(desk, "tax.sif")
        first = staff(desk, case.first_responder.unit)
        if case.pending_unit is not None:
            return staff(desk, case.pending_unit), c.Accept(note="签收")
        if case.pending_jurisdiction is not None:
            centre = f"gov.centre.{case.pending_jurisdiction.removeprefix('qj.')}"
            return staff(desk, centre, case.pending_jurisdiction), c.Accept()
        if case.classification is None or rng.random() < 0.05:
            kind = rng.choice(list(Classification))
            return first, c.Classify(classification=kind, route=rng.randint(1, 7), reason="分类")
        if case.closed:
            if rng.random() < 0.5:
                return office, c.Reopen(reason="回访不满意")
            return holder, c.Link(case_id=rng.choice(self.cases), relation=LinkRelation.RELATED)
        if rng.random() < 0.4:  # the usual next step, so that many cases get closed
            if not case.decided:
                return holder, c.Decide(outcome=DecisionOutcome.RESOLVED, finding="已解决")
            if not case.feedback_given:
                return holder, c.GiveFeedback(channel=Channel.VISIT, content="当面告知")
            return holder, c.Close(summary="办结")
        legal, today = staff(desk, "tax.legal"), desk.now.date()
        amount = "1200.50"
        satisfaction = rng.choice(list(Satisfaction))
        choices: list[tuple[Actor, c.Command]] = [
            (holder, c.Transfer(to_unit=rng.choice(HANDLER_UNITS + INTAKE_UNITS), reason="转办")),
            (holder, c.Transfer(to_jurisdiction=rng.choice(PLACES), reason="非本辖区")),
            (holder, c.Decide(outcome=rng.choice(list(DecisionOutcome)), finding="经核实")),
            (
                holder,
                c.GiveFeedback(channel=Channel.WECHAT, content="告知", satisfaction=satisfaction),
            ),
            (holder, c.Close(summary="办结")),
            (holder, c.Escalate(reason="提请领导小组")),
            (office, c.Urge(reason="催办")),
            (holder, c.Consult(units=tuple(rng.sample(CONSULTED, 2)), outcome="会商一致")),
            (holder, c.Extend(until=today + timedelta(days=40), reason="延期")),
            (office, c.Extend(approve=rng.random() < 0.7, reason="审批")),
            (holder, c.Link(case_id=rng.choice(self.cases), relation=LinkRelation.DUPLICATE)),
            (
                legal,
                c.ServeDemandNotice(served_at=desk.now, amount=amount, document_number="催1号"),
            ),
            (legal, c.ConfirmArrears(amount=amount, period_from=today, period_to=today)),
            (legal, c.ReferToCourt(court="潜江市人民法院", reason="催告期满")),
            (legal, c.RecordCourtOutcome(outcome="准予执行")),
        ]
        return rng.choice(choices)
