"""The stable codes of DOMAIN.md.

They appear in stored events, the API and the UI: a value, once used, is never renamed.
Each enum carries its Chinese label for display (``label``).
"""

from __future__ import annotations

from enum import StrEnum


class _Labelled(StrEnum):
    """A StrEnum whose members know their Chinese display label."""

    @property
    def label(self) -> str:
        return _LABELS[self]


class Channel(_Labelled):
    """受理渠道, 二(二)."""

    HOTLINE_12345 = "hotline_12345"
    PETITION_PLATFORM = "petition_platform"
    DEPARTMENT_WEBSITE = "department_website"
    DEPARTMENT_HOTLINE = "department_hotline"
    WECHAT = "wechat"
    QQ = "qq"
    VISIT = "visit"
    SERVICE_WINDOW = "service_window"
    ASSIGNED = "assigned"


class Category(_Labelled):
    """争议事项类别, 二(一) items 1–6."""

    PAYMENT = "payment"
    EMPLOYEE_EMPLOYER = "employee_employer"
    ASSESSMENT = "assessment"
    PAYMENT_RECORD = "payment_record"
    SERVICE = "service"
    OTHER = "other"


class Classification(_Labelled):
    """分类, 三(二)."""

    SIMPLE = "simple"
    GENERAL = "general"
    MAJOR = "major"


class Department(_Labelled):
    TAX = "tax"
    HRSS = "hrss"
    MEDICAL = "medical"
    GOV = "gov"


class PayerKind(_Labelled):
    EMPLOYER = "employer"
    PERSON = "person"


class Satisfaction(_Labelled):
    """回访 result."""

    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    UNKNOWN = "unknown"


class DecisionOutcome(_Labelled):
    UPHELD = "upheld"
    PARTIALLY_UPHELD = "partially_upheld"
    REJECTED = "rejected"
    RESOLVED = "resolved"


class LinkRelation(_Labelled):
    DUPLICATE = "duplicate"
    RELATED = "related"


class Role(_Labelled):
    """The roles of API.md; a token carries a list of them."""

    INTAKE = "intake"
    HANDLER = "handler"
    OFFICE = "office"
    ENFORCEMENT = "enforcement"
    AUDITOR = "auditor"
    INSPECTOR = "inspector"
    WITNESS = "witness"


ONLINE_CHANNELS = frozenset(
    {
        Channel.HOTLINE_12345,
        Channel.PETITION_PLATFORM,
        Channel.DEPARTMENT_WEBSITE,
        Channel.DEPARTMENT_HOTLINE,
        Channel.WECHAT,
        Channel.QQ,
    }
)

# 三(三) handling routes 1–7.
ROUTES: dict[int, str] = {
    1: "系统原因造成无法申报、缴纳、退付，主管税务部门查明处理",
    2: "应征、未申报、未缴纳、已缴纳数据及特殊缴费、退费、滞纳金争议，各部门依职责处理",
    3: "职工与用人单位参保、缴费基数纠纷，在区镇场处派出机构共同会商",
    4: "征缴无果、欠费影响职工待遇，属地政府主导多部门协调",
    5: "事实清楚、催缴手续完备、欠费金额确认，市税务局提请人民法院强制执行",
    6: "对征缴服务不满意，依职责调查核实处理并反馈",
    7: "其它事项依职责处理，必要时提请领导小组研究",
}

_LABELS: dict[StrEnum, str] = {
    Channel.HOTLINE_12345: "12345政务服务热线",
    Channel.PETITION_PLATFORM: "政府信访平台",
    Channel.DEPARTMENT_WEBSITE: "部门网站",
    Channel.DEPARTMENT_HOTLINE: "部门服务热线",
    Channel.WECHAT: "微信",
    Channel.QQ: "QQ",
    Channel.VISIT: "到部门反映",
    Channel.SERVICE_WINDOW: "办事服务窗口",
    Channel.ASSIGNED: "政府有关部门交办、转办",
    Category.PAYMENT: "申报缴费、退费、滞纳金争议",
    Category.EMPLOYEE_EMPLOYER: "职工与用人单位参保登记、缴费基数、欠缴争议",
    Category.ASSESSMENT: "对核定应缴费额有争议",
    Category.PAYMENT_RECORD: "对缴费记录有异议",
    Category.SERVICE: "对经办和缴费服务不满意",
    Category.OTHER: "其他征缴争议",
    Classification.SIMPLE: "简易事项",
    Classification.GENERAL: "一般事项",
    Classification.MAJOR: "重大疑难事项",
    Department.TAX: "税务",
    Department.HRSS: "人社",
    Department.MEDICAL: "医保",
    Department.GOV: "政府有关部门",
    PayerKind.EMPLOYER: "用人单位",
    PayerKind.PERSON: "个人",
    Satisfaction.SATISFIED: "满意",
    Satisfaction.UNSATISFIED: "不满意",
    Satisfaction.UNKNOWN: "未知",
    DecisionOutcome.UPHELD: "支持",
    DecisionOutcome.PARTIALLY_UPHELD: "部分支持",
    DecisionOutcome.REJECTED: "不予支持",
    DecisionOutcome.RESOLVED: "已解决",
    LinkRelation.DUPLICATE: "重复件",
    LinkRelation.RELATED: "关联件",
    Role.INTAKE: "受理人员",
    Role.HANDLER: "承办人员",
    Role.OFFICE: "领导小组办公室",
    Role.ENFORCEMENT: "强制执行",
    Role.AUDITOR: "审计",
    Role.INSPECTOR: "督查",
    Role.WITNESS: "见证",
}


class CaseStatus(_Labelled):
    """Where a case stands in the lifecycle of DOMAIN.md."""

    REGISTERED = "registered"
    CLASSIFIED = "classified"
    TRANSFERRED = "transferred"
    RETURNED = "returned"  # the transfer was sent back (退单); the sender routes it anew
    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    DECIDED = "decided"
    REFERRED_TO_COURT = "referred_to_court"
    FEEDBACK_GIVEN = "feedback_given"
    CLOSED = "closed"
    REOPENED = "reopened"


_LABELS.update(
    {
        CaseStatus.REGISTERED: "已登记",
        CaseStatus.CLASSIFIED: "已分类",
        CaseStatus.TRANSFERRED: "流转中",
        CaseStatus.RETURNED: "已退回",
        CaseStatus.ACCEPTED: "已签收",
        CaseStatus.ESCALATED: "已提请领导小组",
        CaseStatus.DECIDED: "已处理",
        CaseStatus.REFERRED_TO_COURT: "已申请强制执行",
        CaseStatus.FEEDBACK_GIVEN: "已反馈",
        CaseStatus.CLOSED: "已办结",
        CaseStatus.REOPENED: "已重新办理",
    }
)


class AssigningBody(_Labelled):
    """Who assigned (交办/转办, 二(二)3) a matter and is owed a reply: a short list of the bodies
    that do so in practice; the assignment names the body itself (``body_name``) as well."""

    LEADING_GROUP = "leading_group"  # the city's 社会保险费征缴争议调解处理工作领导小组
    GOVERNMENT = "government"  # the city or a township government (政府及其办公室)
    HIGHER_AUTHORITY = "higher_authority"  # a department's higher authority (上级主管部门)
    PETITION_OFFICE = "petition_office"  # the petition office (信访部门)
    HOTLINE_12345 = "hotline_12345"  # the 12345 hotline's work-order centre (12345 工单)


_LABELS.update(
    {
        AssigningBody.LEADING_GROUP: "领导小组",
        AssigningBody.GOVERNMENT: "人民政府及其办公室",
        AssigningBody.HIGHER_AUTHORITY: "上级主管部门",
        AssigningBody.PETITION_OFFICE: "信访部门",
        AssigningBody.HOTLINE_12345: "12345热线工作机构",
    }
)
