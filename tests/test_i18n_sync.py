"""Sync and enrollment errors in the interface language, through the real command line: the
link's own failures (sync/transport.py) and the hub's refusals, which the laptop translates by
the hub's machine ``error`` code while the hub's wire ``detail`` stays English."""

from __future__ import annotations

import pytest

from hubfixtures import free_port

SHORT = {"FIELDREPORT_SYNC_READ_TIMEOUT": "3", "FIELDREPORT_SYNC_CONNECT_TIMEOUT": "2",
         "FIELDREPORT_SYNC_BACKOFF_BASE": "0.01", "FIELDREPORT_SYNC_BACKOFF_MAX": "0.05",
         "FIELDREPORT_SYNC_MAX_FAILURES": "2",
         "COLUMNS": "400"}  # rich wraps the summary at the terminal width: one message, one line


@pytest.fixture
def back_to_english():
    """``--lang zh`` switches the process's language; give the next test English back."""
    yield
    from fieldreport import i18n

    i18n.set_lang("en")


@pytest.fixture
def enrolled(cli, profile, hub):
    r = cli("login", hub.url, hub.enroll())
    assert r.code == 0, r.err
    return hub


def test_sync_cannot_reach_in_chinese(run, enrolled):
    """Nothing listens at the hub URL: sync stops as offline (exit 3, "something left") and says
    so in Chinese, on one line, without a traceback; the English run still says it in English."""
    url = f"http://127.0.0.1:{free_port()}"
    r = run("--lang", "zh", "sync", "--hub", url, env=SHORT)
    assert r.code == 3, (r.out, r.err)
    assert "Traceback" not in r.out + r.err and r.err == "", r.err
    said = [line for line in r.out.splitlines() if url in line]
    assert len(said) == 1, r.out
    assert said[0].startswith(f"无法连接所端：无法连接 {url}（连接被拒绝）。下次尝试时间不早于 "), said
    assert not any(w in r.out for w in ("cannot reach", "connection refused", "Could not")), r.out
    r = run("--lang", "en", "sync", "--hub", url, env=SHORT)
    assert r.code == 3 and f"Could not reach the hub: cannot reach {url} (connection refused). Next attempt" in r.out


def test_login_cannot_reach_in_chinese(cli, profile, home, back_to_english):
    url = f"http://127.0.0.1:{free_port()}"
    r = cli("--lang", "zh", "login", url, "K7QF-2MXD-9TPA")
    assert r.code == 1 and r.err == f"fieldreport: 无法在 {url} 注册：无法连接 {url}（连接被拒绝）\n", r.err
    r = cli("--lang", "en", "login", url, "K7QF-2MXD-9TPA")
    assert r.code == 1 and r.err == f"fieldreport: could not enroll with {url}: cannot reach {url} (connection " \
                                    f"refused)\n", r.err
    assert not (home / "token").exists()
