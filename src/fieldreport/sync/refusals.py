"""What the laptop tells its user when the hub refuses a request (a 4xx, :class:`HubRefused`).

The hub's error answers are ``{"error": code, "detail": …, "field": …}`` (docs/protocol.md,
Errors). The hub is shared by laptops of either language, so its ``detail`` stays English; the
``error`` code and the ``field`` are stable. The laptop therefore says what it knows by code and
field, in the interface language, and shows the hub's own (English) detail only for a code it
does not know.
"""

from __future__ import annotations

from ..i18n import N_, _
from .transport import HubRefused

_TOKEN = N_("the hub does not accept this laptop's token (revoked or never enrolled); run "
            "`fieldreport login HUB_URL CODE` with a new code from the station")
_BAD_CODE = N_("code: the hub does not accept this code (unknown, used or expired); ask the station for a new one")

# (error, field) → message; a field of None stands for any field of that code. Placeholders:
# {status} (HTTP) and {field} in both tables, {device_id} (this laptop's) in ENROLL.
ENROLL: dict[tuple[str, str | None], str] = {
    ("bad_code", None): _BAD_CODE,
    ("forbidden", "device_id"): N_("this laptop (device {device_id}) is enrolled with the hub for another officer; "
                                   "the station must revoke it first (`fieldreport hub revoke {device_id}`), then "
                                   "run this login again"),
}
SYNC: dict[tuple[str, str | None], str] = {
    ("unauthorized", None): _TOKEN,
    ("forbidden", "device_id"): N_("the hub does not accept this laptop's device id with its token (the laptop's "
                                   "data was set up again, or the station removed the enrollment); run "
                                   "`fieldreport login HUB_URL CODE` with a new code from the station"),
    ("forbidden", "area"): N_("the hub refused this laptop: it is enrolled for another area and fetches only its "
                              "own; ask the station to check its enrollment"),
    ("too_large", "Upload-Length"): N_("the photo is larger than the hub accepts; it stays on this laptop"),
    ("too_large", None): N_("the request is larger than the hub accepts (HTTP {status})"),
    ("checksum_mismatch", None): N_("photo chunks kept arriving damaged at the hub; the connection is corrupting "
                                    "data, sync again over another network"),
    ("not_found", None): N_("the hub does not know this request (HTTP {status}); check the hub URL, or whether the "
                            "hub runs an older fieldreport"),
    ("method_not_allowed", None): N_("the hub does not know this request (HTTP {status}); check the hub URL, or "
                                     "whether the hub runs an older fieldreport"),
}


def known(e: HubRefused, table: dict[tuple[str, str | None], str], **values) -> str | None:
    """The translated message for ``e``'s code (and field), or None for a code not in ``table``."""
    if not e.error:
        return None
    msgid = table.get((e.error, e.field)) or table.get((e.error, None))
    if msgid is None:
        return None
    return _(msgid).format(status=e.status, field=e.field or "", **values)


def enroll_message(e: HubRefused, device_id: str) -> str:
    """A refused ``POST /v1/enroll``."""
    msg = known(e, ENROLL, device_id=device_id)
    if msg is not None:
        return msg
    if e.status == 401:  # the enroll endpoint answers 401 for a bad code only
        return _(_BAD_CODE)
    return _("the hub refused the enrollment (HTTP {status}): {detail}").format(status=e.status, detail=e.detail)


def is_bad_code(e: HubRefused) -> bool:
    """The user's code was wrong (the user's input: exit 2), not a failure of the enrollment."""
    return e.error == "bad_code" or e.status == 401


def sync_message(e: HubRefused) -> str:
    """A refused push, pull or photo request during ``fieldreport sync``."""
    msg = known(e, SYNC)
    if msg is not None:
        return msg
    if e.status == 401:  # 401 is only ever a missing, unknown or revoked token
        return _(_TOKEN)
    if e.status == 403:
        return _("the hub refused this laptop ({detail}); ask the station to check its enrollment").format(
            detail=e.detail or e.error or "403")
    return _("the hub refused the request (HTTP {status}: {detail})").format(status=e.status, detail=e.detail)


# A rejected operation's ``code`` (docs/protocol.md, "Rejection codes") → message. Placeholders
# are the result's ``params`` plus {field} and {detail} (the hub's English reason).
OP: dict[str, str] = {
    "hash": N_("the hub found that this entry's content does not match its hash (changed in transit or on this "
               "laptop); run `fieldreport verify`"),
    "seq_taken": N_("the hub already holds entry number {seq} as another operation ({other}): this laptop's log "
                    "was rewritten (an old copy restored?); run `fieldreport doctor`"),
    "no_entity": N_("the hub holds no {what} {entity} (was the entry that created it rejected?)"),
    "other_area": N_("the report belongs to another area: the hub takes changes to it only from that area's "
                     "laptops or the officer it is assigned to"),
    "exists": N_("the hub already holds {what} {entity}"),
    "transition": N_("the status cannot go from {frm} to {to}; possible next: {legal}"),
    "internal": N_("the hub could not apply this entry (internal error {error}); the station's log has it: "
                   "resubmit later or ask the station"),
    "invalid": N_("{field}: the hub does not accept this value ({detail})"),
    "status_moved": N_("the station moved the report to {hub} meanwhile (this change was from {frm})"),
}
_WHAT = {"report": N_("report"), "premises": N_("premises"), "inspection": N_("inspection")}


def op_reason(result: dict | None) -> str:
    """Why the hub refused one entry, in the interface language: by the rejection's code, or
    for a single entry refused with a 4xx by the error code; the hub's own (English) reason
    only for a code this laptop does not know."""
    from .. import taxonomy as tx
    from ..i18n import lang

    r = result or {}
    detail = r.get("reason") or ""
    if r.get("http_status"):
        e = HubRefused(int(r["http_status"]), r.get("error"), detail or None, r.get("field"))
        return sync_message(e)
    msgid = OP.get(r.get("code") or "")
    if msgid is None:
        return f"{r['field']}: {detail}" if r.get("field") and not detail.startswith(f"{r['field']}:") else detail
    # the hub's values, never in place of the two this laptop fills in itself
    values = {k: v for k, v in (r.get("params") or {}).items() if isinstance(k, str) and k not in ("field", "detail")}
    if "what" in values:
        values["what"] = _(_WHAT[values["what"]]) if values["what"] in _WHAT else values["what"]
    for k in ("frm", "to", "hub"):
        if k in values:
            values[k] = tx.name(tx.STATUSES, values[k], lang()) or values[k]
    if isinstance(values.get("legal"), list):
        values["legal"] = ", ".join(tx.name(tx.STATUSES, s, lang()) or s for s in values["legal"]) or _("none")
    if r.get("code") == "invalid" and detail.startswith(f"{r.get('field')}: "):
        detail = detail[len(f"{r.get('field')}: "):]
    try:
        return _(msgid).format(field=r.get("field") or "", detail=detail, **values)
    except (KeyError, IndexError, ValueError):
        return detail  # a newer hub's params this laptop does not know
