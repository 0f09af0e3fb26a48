"""Chinese labels and local times for the console's templates."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ledger.domain.codes import AssigningBody
from ledger.domain.context import SHANGHAI, Context
from ledger.domain.reference import UnknownJurisdiction, UnknownUnit

# The rules of DOMAIN.md, as the console names them when the ledger refuses a command.
RULES = {
    "R1": "R1 受理登记须载明三(一)各项，证件号码须通过校验",
    "R2": "R2 登记人即首问责任人，由首问责任人分类（先行转属地的案件由签收单位分类）",
    "R3": "R3 已办结的案件不得再作处理、流转或移送",
    "R4": "R4 只有签收持有案件的单位可以作出处理（重大事项领导小组办公室亦可）",
    "R5": "R5 申请法院强制执行须事实清楚、催告书送达满10日、欠费金额已确认，并由市税务局提出",
    "R6": "R6 办结前须有处理意见（简易事项当场处理）并已向缴费人反馈",
    "R7": "R7 记录不可修改或删除，更正须作为新事件引用原记录",
    "R8": "R8 金额须精确到分",
    "R9": "R9 延期须在期限届满前申请，并只能由领导小组办公室批准；信访事项延期不超过30日",
    "R10": "R10 首次分类后改变分类须经领导小组办公室批准",
    "R11": "R11 权限以基础数据为准：非市税务局授权单位不得催告、移送法院，属地案件由该属地单位签收",
    "R12": "R12 每次移送只记录一个法院结果，其后不同的结果须作为更正",
    "R13": "R13 案件须先分类后流转（转属地除外），接收单位可在签收期限内退单",
    "R14": "R14 催告书须载明文书号，送达时间不得晚于记录时间",
}

# Topics of the timeline, in Chinese.
EVENT_LABELS = {
    "ledger.Registered": "受理登记",
    "ledger.Classified": "分类",
    "ledger.Transferred": "流转",
    "ledger.Accepted": "签收",
    "ledger.TransferReturned": "退单",
    "ledger.ReclassificationRequested": "申请改变分类",
    "ledger.ReclassificationDecided": "改变分类审批",
    "ledger.Escalated": "提请领导小组",
    "ledger.Decided": "处理意见",
    "ledger.Consulted": "会商",
    "ledger.Urged": "催办督办",
    "ledger.ExtensionRequested": "申请延期",
    "ledger.ExtensionDecided": "延期审批",
    "ledger.DemandNoticeServed": "送达催告书",
    "ledger.ArrearsConfirmed": "确认欠费",
    "ledger.ReferredToCourt": "申请法院强制执行",
    "ledger.CourtOutcomeRecorded": "法院结果",
    "ledger.FeedbackGiven": "反馈回访",
    "ledger.Closed": "办结",
    "ledger.Reopened": "重新办理",
    "ledger.FollowUpVisited": "办结后回访",
    "ledger.FollowUpResolved": "回访不满意不予重新办理",
    "ledger.Linked": "关联案件",
    "ledger.Corrected": "更正",
    "ledger.IdentifiersRevealed": "查看证件号码",
    "ledger.MeetingDecisionRecorded": "会议议定事项（交办任务）",
    "ledger.TaskCompleted": "交办任务办理结果",
    "ledger.AssignmentRecorded": "登记交办",
    "ledger.AssignmentReplied": "回复交办机关",
}

# The numbers of the department statistics a case list can be narrowed to (督办's links).
MEASURE_LABELS = {
    "received": "受理（按登记受理的单位）",
    "repeat_trips": "重复跑",
    "closed": "办结",
    "closed_on_time": "按期办结",
    "closed_late": "超期办结",
    "feedback_given": "反馈",
    "satisfied": "反馈或回访满意",
    "unsatisfied": "反馈或回访不满意",
    "returned_transfers": "退单（所发流转被退回）",
    "escalations": "提请领导小组",
    "follow_ups": "办结后回访",
    "held": "在办（当前）",
    "overdue": "在办且已超期（当前）",
}

FIELD_LABELS = {
    "classification": "分类",
    "route": "路径",
    "to_unit": "接收单位",
    "to_jurisdiction": "接收属地",
    "outcome": "结果",
    "finding": "认定与意见",
    "amount": "金额（元）",
    "units": "会商单位",
    "until": "延至",
    "approve": "批准",
    "court": "法院",
    "channel": "渠道",
    "content": "内容",
    "satisfaction": "满意度",
    "relation": "关系",
    "correction": "更正内容",
    "position": "被更正的位置",
    "summary": "摘要",
    "note": "备注",
    "reason": "理由",
    "meeting_id": "会议",
    "decision_no": "议定事项序号",
    "decision": "议定事项",
    "assigned_unit": "承办单位",
    "due": "办理期限",
    "result": "办理结果",
    "assignment": "交办",
}


def assignment_text(body: str, body_name: str, reference: str, reply_due: date | str) -> str:
    """An assignment (交办/转办) on one line, as the case page shows it: the body (its label),
    its name and document number, and the date it is owed a reply by."""
    try:
        shown = AssigningBody(body).label
    except ValueError:
        shown = body
    if body_name:
        shown += f" · {body_name}"
    if reference:
        shown += f"（{reference}）"
    due = reply_due.isoformat() if isinstance(reply_due, date) else reply_due
    return f"{shown}，回复期限 {due}"


def label(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, StrEnum) and hasattr(value, "label"):
        return str(value.label)
    return str(value)


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def local_date(moment: date | datetime | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        moment = moment.astimezone(SHANGHAI).date()
    return moment.isoformat()


class Labels:
    """Filters the templates use, bound to the deployment's reference data and calendar."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def unit(self, code: str | None) -> str:
        if not code:
            return "—"
        try:
            return self.context.reference.unit(code).name
        except UnknownUnit:
            return code

    def jurisdiction(self, code: str | None) -> str:
        if not code:
            return "—"
        try:
            return self.context.reference.jurisdiction(code).name
        except UnknownJurisdiction:
            return code

    def working_days_left(self, due: date | None, today: date) -> int | None:
        """Working days from ``today`` to ``due`` (negative: overdue by that many)."""
        if due is None:
            return None
        if due >= today:
            return self.context.calendar.working_days_between(today, due)[0]
        return -self.context.calendar.working_days_between(due, today)[0]

    def filters(self) -> dict[str, Any]:
        return {
            "label": label,
            "local_time": local_time,
            "local_date": local_date,
            "unit_name": self.unit,
            "jurisdiction_name": self.jurisdiction,
        }
