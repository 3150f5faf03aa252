"""The printable inspection record and rectification-advice sheet (检查记录暨整改建议书), in
Chinese, as self-contained HTML that prints cleanly on A4. It records findings and
*recommends* rectification; it is not a penalty or a compulsory decision (domain.md)."""

from __future__ import annotations

import datetime as _dt
from html import escape
from typing import Any

from .. import taxonomy as tx
from ..store import checklist_store as cs
from .inspect import ADVICE_ZH, finding_zh
from .walk import Walk

CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "Noto Serif CJK SC", "Songti SC", "SimSun", serif; font-size: 11pt; color: #000; margin: 0; }
h1 { text-align: center; font-size: 18pt; letter-spacing: 0.2em; margin: 0 0 4mm; }
.ref { text-align: right; font-size: 9pt; margin-bottom: 4mm; }
table { width: 100%; border-collapse: collapse; margin-bottom: 5mm; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #000; padding: 1.5mm 2mm; vertical-align: top; text-align: left; }
th { background: #eee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.info th { width: 18%; }
.note { font-size: 9.5pt; margin: 4mm 0; }
.sign { margin-top: 10mm; width: 100%; border: none; }
.sign td { border: none; padding-top: 10mm; width: 50%; }
.line { display: inline-block; min-width: 45mm; border-bottom: 1px solid #000; }
@media screen { body { max-width: 190mm; margin: 10mm auto; } }
@media print { .noprint { display: none; } }
"""

ROLE_ZH = {k: v[0] for k, v in tx.ROLES.items()}


def render(store, blobs, inspection_id: str, *, inspector_name: str | None = None,
           inspector_role: str | None = None, station: str | None = None) -> str:
    walk = Walk(store, blobs, inspection_id, lang="zh")
    insp = walk.inspection
    prem = cs.premises(store, insp["premises_id"])
    tpl = walk.template
    summ = insp.get("summary")
    hazards = {h["item_id"]: h for h in _reports_of(store, insp)}
    started = _dt.datetime.fromisoformat(insp["started_at"])
    e = escape
    rows = []
    n = 0
    for st in walk.steps:
        res, rule = walk.outcome_of(st.item)
        if res != "fail":
            continue
        n += 1
        a = walk.answers[st.item.id]
        h = hazards.get(st.item.id)
        deadline = h["deadline"] if h else ""
        dept = tx.name(tx.DEPARTMENTS, tpl.dept_for(st.item.id), "zh") or "主管部门"
        advice = ADVICE_ZH[rule.code].format(deadline=deadline or "期限", dept=dept)
        rows.append(
            f"<tr><td>{n}</td><td>{e(finding_zh(st.item, a['answer']))}<br><small>检查项：{e(st.item.text.zh)}"
            f"{'；' + e(a['note']) if a.get('note') else ''}</small></td>"
            f"<td>{e(rule.code)} {e(tx.FAIL_CODES[rule.code][0])}</td><td>{e(advice)}</td>"
            f"<td>{e(deadline)}</td><td>{e(dept)}</td><td>{e(st.item.basis or '—')}</td>"
            f"<td>{e(h['ref']) if h else ''}</td></tr>")
    counts = ""
    if summ:
        failed = summ.get("failed", {})
        counts = (f"共检查 {summ.get('total', walk.total)} 项：符合 {summ.get('passed', 0)} 项，"
                  f"发现问题 {sum(failed.values())} 项（" +
                  "，".join(f"{c} {tx.FAIL_CODES[c][0]} {failed.get(c, 0)}" for c in tx.FAIL_CODES) +
                  f"），不适用 {summ.get('na', 0)} 项，跳过 {summ.get('skipped', 0)} 项。")
    else:
        counts = f"检查尚未完成（已答 {walk.answered_count()}/{walk.total} 项）。"
    findings = ("<table><thead><tr><th>序号</th><th>发现的问题</th><th>类别</th><th>整改建议</th><th>建议完成期限</th>"
                "<th>主管部门</th><th>依据</th><th>编号</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
                if rows else "<p>本次检查未发现问题。</p>")
    who = e(inspector_name or insp.get("inspector") or "")
    role = e(ROLE_ZH.get(inspector_role or "", ""))
    kind = "复查" if insp.get("items") is not None else "检查"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(prem['name'])} {kind}记录暨整改建议书</title>
<style>{CSS}</style></head><body>
<h1>重点场所{kind}记录暨整改建议书</h1>
<div class="ref">记录编号：{e(insp['ref'])}　模板：{e(tpl.title.zh)}（{e(tpl.name)} 第{tpl.version}版）</div>
<table class="info">
<tr><th>场所名称</th><td>{e(prem['name'])}</td><th>场所类型</th><td>{e(tx.name(tx.PREMISES_TYPES, prem['type'], 'zh'))}</td></tr>
<tr><th>地址</th><td colspan="3">{e(prem.get('address') or '')}</td></tr>
<tr><th>负责人/联系人</th><td>{e(prem.get('contact') or '')}</td><th>许可证号</th><td>{e(prem.get('licence') or '')}</td></tr>
<tr><th>检查日期</th><td>{started.strftime('%Y年%m月%d日')}</td><th>检查人</th><td>{who}{('（' + role + '）') if role else ''}</td></tr>
<tr><th>所属单位</th><td colspan="3">{e(station or '')}</td></tr>
</table>
<p>{e(counts)}</p>
{findings}
<p class="note">以上为本次{kind}发现的问题及整改建议。请你单位对照有关规定，于建议期限内自行整改，并做好记录；
整改完成后可告知社区民警或辅警，届时将进行复查。本记录为检查发现和整改建议，不是行政处罚或强制措施决定；
如需作出处理决定，由派出所或主管部门依法办理。</p>
<table class="sign"><tr>
<td>检查人（签名）：<span class="line"></span><br><br>日期：<span class="line"></span></td>
<td>被检查单位负责人（签名）：<span class="line"></span><br><br>日期：<span class="line"></span></td>
</tr></table>
<p class="note noprint">打印：浏览器“打印”，纸张 A4。</p>
</body></html>
"""


def _reports_of(store, insp: dict[str, Any]) -> list[dict[str, Any]]:
    """The hazard reports of this inspection; for a re-inspection, the open ones it re-checked."""
    rows = store.list_reports(limit=None, archived=None, premises_id=insp["premises_id"], oldest_first=True)
    if insp.get("items") is None:
        return [r for r in rows if r.get("inspection_id") == insp["id"]]
    return [r for r in rows if r.get("item_id") in insp["items"] and r.get("inspection_id")
            and r["status"] not in ("reinspected", "visited", "closed")]
