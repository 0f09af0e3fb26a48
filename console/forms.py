"""The console's forms: one per command of the API, inputs named after the body's fields.

Nested fields are joined by a dot (``payer.identifier``); a list takes the same name more than
once (``units``). ``command_from_form`` turns a submitted form into the same command Struct the
API decodes from JSON, so both are checked by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from ledger import commands as c
from ledger.domain.codes import (
    AssigningBody,
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    PayerKind,
    Satisfaction,
)
from ledger.domain.context import SHANGHAI


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, select, date, datetime, number, units, unit, jurisdiction
    choices: type[StrEnum] | None = None
    required: bool = True
    hint: str = ""


@dataclass(frozen=True)
class Form:
    verb: str
    title: str
    command: type[c.Command]
    fields: tuple[Field, ...] = field(default_factory=tuple)


REASON = Field("reason", "理由", "textarea")
# The employer a demand notice or a referral is against, when the case names none yet (R11).
EMPLOYER = (
    Field("employer.name", "用人单位名称", required=False),
    Field(
        "employer.credit_code",
        "用人单位统一社会信用代码",
        required=False,
        hint="案件尚未载明用人单位时填写",
    ),
)

REGISTER = Form(
    "register",
    "受理登记",
    c.Register,
    (
        Field("channel", "受理渠道", "select", Channel),
        Field("received_at", "接诉时间", "datetime", hint="缴费人来电、来访或来信的时间"),
        Field("payer.kind", "缴费人类型", "select", PayerKind),
        Field("payer.name", "缴费人名称"),
        Field(
            "payer.identifier",
            "证件号码",
            hint="单位填统一社会信用代码（GB 32100），个人填居民身份证号码（GB 11643）",
        ),
        Field("payer.phone", "联系电话"),
        Field("jurisdiction", "属地", "jurisdiction"),
        Field("category", "争议事项类别", "select", Category),
        Field("summary", "争议事项摘要", "textarea"),
        Field("preliminary_opinion", "初步意见", "textarea"),
        Field(
            "employer.name",
            "用人单位名称",
            required=False,
            hint="职工与用人单位的争议（二(一)2）由个人提出时必填",
        ),
        Field("employer.credit_code", "用人单位统一社会信用代码", required=False),
        Field(
            "assignment.body",
            "交办机关",
            "select",
            AssigningBody,
            required=False,
            hint="政府有关部门交办、转办的事项（二(二)3）填写",
        ),
        Field("assignment.body_name", "交办机关名称", required=False, hint="如 潜江市信访局"),
        Field("assignment.reference", "交办文号", required=False),
        Field("assignment.reply_due", "回复期限", "date", required=False),
    ),
)

COMMAND_FORMS = (
    Form(
        "classify",
        "分类",
        c.Classify,
        (
            Field("classification", "分类", "select", Classification),
            Field("route", "处理路径（1–7）", "number"),
            REASON,
        ),
    ),
    Form("return", "退单（退回误转的案件）", c.ReturnTransfer, (REASON,)),
    Form(
        "reclassify",
        "申请改变分类",
        c.Reclassify,
        (
            Field("classification", "新的分类", "select", Classification),
            Field("route", "新的路径（三(三)1–7）", "number"),
            REASON,
        ),
    ),
    Form(
        "transfer",
        "流转",
        c.Transfer,
        (
            Field("to_unit", "接收单位", "unit", required=False),
            Field("to_jurisdiction", "接收属地", "jurisdiction", required=False),
            REASON,
        ),
    ),
    Form("accept", "签收", c.Accept, (Field("note", "备注", "textarea", required=False),)),
    Form(
        "decide",
        "处理意见",
        c.Decide,
        (
            Field("outcome", "处理结果", "select", DecisionOutcome),
            Field("finding", "认定事实与意见", "textarea"),
            Field("amount", "金额（元）", required=False, hint="如 1234.50"),
        ),
    ),
    Form(
        "consult",
        "会商",
        c.Consult,
        (Field("units", "会商单位", "units"), Field("outcome", "会商结果", "textarea")),
    ),
    Form("escalate", "提请领导小组", c.Escalate, (REASON,)),
    Form("urge", "催办督办", c.Urge, (REASON,)),
    Form(
        "extend",
        "申请延期",
        c.Extend,
        (Field("until", "延至", "date"), Field("reason", "理由", "textarea")),
    ),
    Form(
        "demand-notice",
        "送达催告书",
        c.ServeDemandNotice,
        (
            Field("served_at", "送达时间", "datetime", hint="可早于受理时间，不得晚于现在"),
            Field("amount", "催告金额（元）"),
            Field("document_number", "文书号"),
            *EMPLOYER,
        ),
    ),
    Form(
        "confirm-arrears",
        "确认欠费",
        c.ConfirmArrears,
        (
            Field("amount", "欠费金额（元）"),
            Field("period_from", "所属期起", "date"),
            Field("period_to", "所属期止", "date"),
        ),
    ),
    Form(
        "refer-to-court",
        "申请法院强制执行",
        c.ReferToCourt,
        (Field("court", "人民法院"), REASON, *EMPLOYER),
    ),
    Form(
        "court-outcome",
        "法院结果",
        c.RecordCourtOutcome,
        (
            Field("outcome", "结果"),
            Field("detail", "详情", "textarea", required=False),
            Field(
                "corrects",
                "更正的结果（版本号）",
                "number",
                required=False,
                hint="与已记录的结果不同时，填写所更正结果的案件版本号",
            ),
        ),
    ),
    Form(
        "feedback",
        "反馈回访",
        c.GiveFeedback,
        (
            Field("channel", "反馈渠道", "select", Channel),
            Field("content", "反馈内容", "textarea"),
            Field("satisfaction", "满意度", "select", Satisfaction),
        ),
    ),
    Form("close", "办结", c.Close, (Field("summary", "办结摘要", "textarea"),)),
    Form("reopen", "重新办理", c.Reopen, (REASON,)),
    Form(
        "follow-up",
        "办结后回访",
        c.FollowUp,
        (
            Field("channel", "回访渠道", "select", Channel),
            Field("content", "回访内容", "textarea"),
            Field("satisfaction", "满意度", "select", Satisfaction),
        ),
    ),
    Form("follow-up-resolved", "回访不满意：不予重新办理", c.ResolveFollowUp, (REASON,)),
    Form(
        "record-assignment",
        "登记交办",
        c.RecordAssignment,
        (
            Field(
                "assignment.body",
                "交办机关",
                "select",
                AssigningBody,
                hint="登记后由领导小组办公室或上级机关交办、转办的事项（二(二)3）",
            ),
            Field("assignment.body_name", "交办机关名称", required=False, hint="如 潜江市信访局"),
            Field("assignment.reference", "交办文号", required=False),
            Field("assignment.reply_due", "回复期限", "date"),
        ),
    ),
    Form(
        "reply-to-assignment",
        "回复交办机关",
        c.ReplyToAssignment,
        (Field("content", "回复内容", "textarea"),),
    ),
    Form(
        "link",
        "关联案件",
        c.Link,
        (
            Field("case_id", "关联案件编号（案件 ID）"),
            Field("relation", "关系", "select", LinkRelation),
        ),
    ),
    Form(
        "complete-task",
        "报告会议交办任务办理结果",
        c.CompleteTask,
        (
            Field("meeting_id", "会议编号（会议 ID）"),
            Field("decision_no", "议定事项序号", "number"),
            Field("result", "办理结果", "textarea"),
        ),
    ),
    Form(
        "correct",
        "更正",
        c.Correct,
        (
            Field("position", "被更正事件的日志位置", "number"),
            Field("correction", "更正内容", "textarea"),
            REASON,
        ),
    ),
)
EXTEND_DECISION = Form(
    "extend-decision",
    "延期审批",
    c.Extend,
    (
        Field("approve", "审批", "approve"),
        Field("reason", "意见", "textarea", required=False),
    ),
)
RECLASSIFY_DECISION = Form(
    "reclassify-decision",
    "改变分类审批",
    c.Reclassify,
    (
        Field("approve", "审批", "approve"),
        Field("reason", "意见", "textarea", required=False),
    ),
)
REVEAL = Form("reveal", "查看证件号码", c.RevealIdentifiers, (REASON,))
FORMS = {f.verb: f for f in (*COMMAND_FORMS, EXTEND_DECISION, RECLASSIFY_DECISION, REVEAL)}
# A form whose verb is not a command of the catalogue decides what another one requested.
DECISIONS = {"extend-decision": "extend", "reclassify-decision": "reclassify"}


class FormError(ValueError):
    """A form that does not make its command; ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _local_datetime(text: str) -> str:
    """``<input type=datetime-local>`` gives Beijing wall time without an offset."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.isoformat()


def command_from_form(form: Form, data: dict[str, list[str]]) -> c.Command:
    body: dict[str, Any] = {}
    for f in form.fields:
        values = [v.strip() for v in data.get(f.name, []) if v.strip()]
        if f.kind == "units":
            value: Any = values
            if not values:
                value = None
        elif not values:
            value = None
        else:
            value = values[0]
            try:
                if f.kind == "datetime":
                    value = _local_datetime(value)
                elif f.kind == "number":
                    value = int(value)
                elif f.kind == "approve":
                    value = {"yes": True, "no": False}[value]
            except (ValueError, KeyError):
                raise FormError(f"“{f.label}”的格式不正确", f.name) from None
        if value is None:
            if f.required:
                raise FormError(f"请填写“{f.label}”", f.name)
            continue
        target = body
        *parents, leaf = f.name.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    try:
        return msgspec.convert(body, form.command, strict=False)
    except msgspec.ValidationError as exc:
        raise FormError(f"填写内容不符合要求：{exc}") from None
