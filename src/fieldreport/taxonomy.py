"""The controlled vocabularies of fieldreport, as bilingual data.

Every code is a stable English identifier used in flags, JSON and on the wire; each carries
its Chinese and English display names. Input accepts the code or either language's name
(``--kind 隐患`` is ``--kind hazard``). Pure data: imports nothing from the package.
"""

from __future__ import annotations

# code -> (zh, en)
KINDS: dict[str, tuple[str, str]] = {
    "dispute": ("矛盾纠纷", "dispute"),
    "hazard": ("安全隐患", "safety hazard"),
    "sentiment": ("社情民意", "public sentiment"),
    "zero": ("零报告", "zero report"),
}

KIND_ALIASES = {"纠纷": "dispute", "隐患": "hazard", "民意": "sentiment", "零": "zero"}

CATEGORIES: dict[str, dict[str, tuple[str, str]]] = {
    "hazard": {
        "fire": ("消防", "fire"),
        "electrical": ("电气", "electrical"),
        "gas": ("燃气", "gas"),
        "hazchem": ("危化品", "hazardous chemicals"),
        "building": ("房屋建筑", "building safety"),
        "ebike": ("电动自行车", "e-bikes"),
        "traffic": ("道路交通", "road traffic"),
        "water": ("溺水/水域", "drowning / water"),
        "special_equipment": ("特种设备", "special equipment"),
        "food": ("食品", "food"),
        "geological": ("地质灾害", "geological"),
        "public_order": ("治安", "public order"),
    },
    "dispute": {
        "family": ("婚姻家庭", "marriage / family"),
        "neighbour": ("邻里", "neighbours"),
        "housing": ("房屋宅基地", "housing / homestead"),
        "contract": ("合同", "contract"),
        "business": ("生产经营", "business"),
        "damages": ("损害赔偿", "injury / damages"),
        "land": ("山林土地", "forest / land"),
        "requisition": ("征地拆迁", "land requisition / demolition"),
        "pollution": ("环境污染", "pollution"),
        "labour": ("劳动争议", "labour / wage arrears"),
        "consumer": ("消费", "consumer"),
        "medical": ("医疗", "medical"),
        "traffic_accident": ("道路交通事故", "traffic accident"),
        "property_mgmt": ("物业", "property management"),
        "village_affairs": ("村务管理", "village affairs"),
        "debt": ("债务/民间借贷", "debt / private lending"),
        "other": ("其他", "other"),
    },
    "sentiment": {
        "livelihood": ("民生诉求", "livelihood demands"),
        "suggestion": ("意见建议", "suggestions"),
        "stability": ("涉稳信息", "stability signals"),
        "crime_clue": ("治安线索", "crime clues"),
        "key_person": ("重点人员动态", "key persons' movements"),
        "online_opinion": ("网络舆情", "online opinion"),
        "police_feedback": ("警务评价", "police-service feedback"),
    },
    "zero": {},
}

CATEGORY_ALIASES = {"hazard": {"电动车": "ebike", "欠薪": "labour", "危房": "building"}}

LEVELS: dict[str, tuple[str, str]] = {
    "red": ("红色(重大)", "red (severe)"),
    "orange": ("橙色(较大)", "orange (high)"),
    "yellow": ("黄色(一般)", "yellow (moderate)"),
    "blue": ("蓝色(低)", "blue (low)"),
    "general": ("一般隐患", "general hazard"),
    "major": ("重大隐患", "major hazard"),
}
LEVEL_ALIASES = {"红": "red", "红色": "red", "橙": "orange", "橙色": "orange", "黄": "yellow",
                 "黄色": "yellow", "蓝": "blue", "蓝色": "blue", "一般": "general", "重大": "major"}
COLOUR_LEVELS = ("red", "orange", "yellow", "blue")
HAZARD_LEVELS = COLOUR_LEVELS + ("general", "major")

ROLES: dict[str, tuple[str, str]] = {
    "community-police": ("社区民警", "community police"),
    "auxiliary-police": ("辅警", "auxiliary police"),
    "grid-member": ("网格员", "grid member"),
    "cadre": ("村干部", "village cadre"),
    "volunteer": ("志愿者", "volunteer"),
}

PARTY_ROLES: dict[str, tuple[str, str]] = {
    "applicant": ("申请人", "applicant"),
    "respondent": ("被申请人", "respondent"),
    "witness": ("证人", "witness"),
}

DEPARTMENTS: dict[str, tuple[str, str]] = {
    "police_station": ("派出所", "police station"),
    "traffic_police": ("交警", "traffic police"),
    "fire_rescue": ("消防救援", "fire rescue"),
    "emergency_mgmt": ("应急管理", "emergency management"),
    "housing": ("住建", "housing and construction"),
    "urban_mgmt": ("城管", "urban management"),
    "market_supervision": ("市场监管", "market supervision"),
    "civil_affairs": ("民政", "civil affairs"),
    "education": ("教育", "education"),
    "culture_tourism": ("文旅", "culture and tourism"),
    "postal": ("邮政管理", "postal administration"),
    "judicial_mediation": ("司法所/人民调解委员会", "judicial office / mediation committee"),
    "human_resources": ("人社", "human resources and social security"),
}

STATUSES: dict[str, tuple[str, str]] = {
    "registered": ("已登记", "registered"),
    "routed": ("已分流", "routed"),
    "in_progress": ("处置中", "in progress"),
    "resolved": ("已化解/已整改", "resolved"),
    "reinspected": ("已复查", "re-inspected"),
    "visited": ("已回访", "visited"),
    "closed": ("已办结", "closed"),
    "escalated": ("已上报升级", "escalated"),
    "returned": ("已退回", "returned"),
    "parked": ("挂账", "parked"),
}

# The workflow of domain.md: register -> route -> handle -> resolved -> re-inspect -> visit -> close,
# with side states escalated / returned / parked.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "registered": ("routed", "in_progress", "resolved", "escalated", "returned", "parked", "closed"),
    "routed": ("in_progress", "resolved", "escalated", "returned", "parked"),
    "in_progress": ("resolved", "escalated", "returned", "parked"),
    "resolved": ("reinspected", "visited", "in_progress", "closed"),
    "reinspected": ("visited", "closed", "in_progress"),
    "visited": ("closed", "in_progress"),
    "closed": (),
    "escalated": ("routed", "in_progress", "returned"),
    "returned": ("registered", "routed", "in_progress"),
    "parked": ("in_progress", "routed", "closed"),
}
# A zero report records a sweep with nothing found: it is created closed-ready.

PREMISES_TYPES: dict[str, tuple[str, str]] = {
    "hotel": ("旅馆业", "hotel / guesthouse"),
    "internet_cafe": ("网吧", "internet café"),
    "rental_housing": ("出租屋", "rental housing"),
    "small_venue": ("三小场所", "small shop / restaurant / workshop"),
    "petrol_station": ("加油站", "petrol station"),
    "hazchem_storage": ("危化品存储", "hazardous-chemical storage"),
    "school": ("学校/幼儿园", "school / kindergarten"),
    "parcel_logistics": ("寄递物流", "parcel delivery / logistics"),
    "entertainment": ("娱乐场所", "entertainment venue"),
    "elderly_care": ("养老机构", "elderly-care home"),
    "other": ("其他", "other"),
}

FAIL_CODES: dict[str, tuple[str, str]] = {
    "I": ("当场整改", "fix now"),
    "R": ("限期整改并复查", "fix by deadline, then re-inspect"),
    "M": ("重大隐患移交主管部门", "major hazard, hand to the department"),
    "P": ("立即报告公安", "report to police at once"),
}

VOCABULARIES = {
    "kind": KINDS,
    "level": LEVELS,
    "role": ROLES,
    "dept": DEPARTMENTS,
    "status": STATUSES,
    "party_role": PARTY_ROLES,
    "premises_type": PREMISES_TYPES,
}
_ALIASES = {"kind": KIND_ALIASES, "level": LEVEL_ALIASES}


def name(vocab: dict[str, tuple[str, str]], code: str | None, lang: str = "zh") -> str:
    """Display name of ``code`` in ``lang`` ('zh' or 'en'); unknown codes are shown as is."""
    if code is None:
        return ""
    pair = vocab.get(code)
    if pair is None:
        return code
    return pair[0] if lang.startswith("zh") else pair[1]


def resolve(vocab: dict[str, tuple[str, str]], value: str, aliases: dict[str, str] | None = None) -> str | None:
    """Map a code, a Chinese name or an English name to its code; None when unknown."""
    v = value.strip()
    if v in vocab:
        return v
    low = v.lower().replace("-", "_").replace(" ", "_")
    for code, (zh, en) in vocab.items():
        if low == code.replace("-", "_") or v == zh or low == en.lower().replace(" ", "_"):
            return code
    if aliases and v in aliases:
        return aliases[v]
    return None


def resolve_field(field: str, value: str, kind: str | None = None) -> str | None:
    if field == "category":
        cats = CATEGORIES.get(kind or "", {})
        return resolve(cats, value, CATEGORY_ALIASES.get(kind or ""))
    return resolve(VOCABULARIES[field], value, _ALIASES.get(field))


def levels_for(kind: str) -> tuple[str, ...]:
    return HAZARD_LEVELS if kind == "hazard" else COLOUR_LEVELS


def codes(field: str, kind: str | None = None) -> list[str]:
    if field == "category":
        return list(CATEGORIES.get(kind or "", {}))
    if field == "level":
        return list(levels_for(kind or ""))
    return list(VOCABULARIES[field])
