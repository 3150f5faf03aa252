"""Enrolling this laptop with the station's hub (``fieldreport login HUB_URL CODE``, or
``fieldreport init --hub URL --code CODE``): spend the station's one-time code for a device
token, kept in the config folder with mode 0600, and remember the hub's URL in the profile."""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from typing import Any

from .errors import FieldReportError, InputError
from .i18n import _


class EnrollError(FieldReportError):
    """The hub could not be reached, or did not answer as a hub."""


def login(paths, profile, hub_url: str, code: str, *, ca_bundle: str | None = None,
          timeout: float = 20.0) -> dict[str, Any]:
    """Enroll with the hub at ``hub_url``; returns {hub_url, device_id, officer_id, name, area,
    epoch, officer_mismatch}. Nothing is saved unless the hub gave a token."""
    from .profile import check, save, write_token
    from .sync import refusals
    from .sync.transport import HttpTransport, HubRefused, TransportError

    url = check({"hub_url": hub_url})["hub_url"]
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(clean) != 12:
        raise InputError(_("code: {code!r} is not an enrollment code; it looks like K7QF-2MXD-9TPA").format(code=code),
                         "code")
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise InputError(_("ca-bundle: {path} is not a file; give the station's certificate (PEM)").format(
            path=ca_bundle), "ca_bundle")
    t = HttpTransport(url, None, connect_timeout=min(timeout, 10.0), read_timeout=timeout, ca_bundle=ca_bundle)
    try:
        ans = t.enroll(clean, profile.device_id, profile.name or socket.gethostname())
    except HubRefused as e:  # translated by the hub's error code; its English detail only for an unknown code
        if refusals.is_bad_code(e):
            raise InputError(refusals.enroll_message(e, profile.device_id), "code") from None
        raise EnrollError(refusals.enroll_message(e, profile.device_id)) from None
    except TransportError as e:
        raise EnrollError(_("could not enroll with {url}: {error}").format(url=url, error=e)) from None
    finally:
        t.close()
    if ans.get("device_id") != profile.device_id:
        raise EnrollError(_("the hub enrolled another device id than this laptop's; nothing was saved"))
    write_token(paths, ans["token"])
    save(paths, replace(profile, hub_url=url))
    return {"hub_url": url, "device_id": ans["device_id"], "officer_id": ans["officer_id"], "name": ans.get("name"),
            "area": ans.get("area"), "epoch": ans["epoch"],
            "officer_mismatch": ans["officer_id"] != profile.officer_id}
