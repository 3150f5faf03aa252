"""``fieldreport hub request-original REF`` (issue 8): ask the laptop that took a report's photos
for their full originals. Laptops send small transmission copies over weak links; the station
asks for an original when it matters (evidence). The request is a change in the pull feed,
``blob.request_original {sha256}``, addressed to the device that pushed the report; at its next
sync the laptop uploads those originals by the usual resumable upload. No SQL here: the hub's
store reads the report and appends the change."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..i18n import _


def request_original(ref: str, *, photo: str | None = None, data: str | None = None,
                     db: str | None = None) -> dict[str, Any]:
    """Queue ``blob.request_original`` for each original of the report's photos the hub does not
    hold whole (or only the one whose hash starts with ``photo``). Returns ``{id, case_code,
    device_id, requested, held}``; asking again for an original already asked is harmless."""
    from . import config as _config
    from .blobs import HubBlobs
    from .station import opened

    cfg = _config.load(data, db)
    with opened(data, db) as store:
        rep = store.station().report(ref)
        shas = list(dict.fromkeys(p["sha256"] for p in rep.get("photos") or []))
        if not shas:
            raise InputError(_("ref: report {ref} has no photos").format(ref=rep["case_code"]), "ref")
        if photo:
            want = photo.strip().lower()
            shas = [s for s in shas if s.startswith(want)]
            if not shas:
                raise InputError(_("photo: no photo of {ref} has a hash starting {prefix!r}; `fieldreport hub show {ref} "
                                   "--json` lists them").format(ref=rep["case_code"], prefix=want), "photo")
        missing = HubBlobs(cfg.blobs_dir).missing(shas)
        changes = [{"type": "blob.request_original", "entity": rep["id"], "payload": {"sha256": s},
                    "device_id": rep["device_id"], "officer_id": None} for s in missing]
        if changes:
            with store.write() as c:
                store.emit(c, changes)
    return {"id": rep["id"], "case_code": rep["case_code"], "device_id": rep["device_id"], "requested": missing,
            "held": [s for s in shas if s not in missing]}
