"""Personal data on screen: masked by default in list, show (also names inside free text) and
export; --reveal shows it and is recorded in the audit log (who, when, what), which `audit`
shows. Tokens and passphrases never reach any output, the crash log or a traceback."""

from __future__ import annotations

import json
import os

import pytest

ID = "11010519491231002X"
NAME = "欧阳锋华"
PHONE = "13812345678"
PASS = "东村 correct horse 电池"
TOKEN = "frt_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc"


@pytest.fixture
def one(cli, profile):
    r = cli("add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", "邻里噪音纠纷",
            "--details", f"{NAME}反映楼上噪音，身份证{ID}，电话{PHONE}", "--place", "东村3组12号",
            "--party", f"name={NAME};role=applicant;id={ID};phone={PHONE};address=东村3组12号 电话{PHONE}",
            "--no-input", "--json")
    assert r.code == 0, r.err
    assert cli("update", "R-0001", "--note", f"已联系{NAME}，电话{PHONE}").code == 0
    return r.json()


def _leaks(text: str) -> list[str]:
    return [x for x in (ID, PHONE, NAME) if x in text]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_masked_by_default_everywhere(cli, one, lang, tmp_path):
    for args in (("list",), ("list", "--json"), ("show", "R-0001"), ("show", "R-0001", "--json"),
                 ("export", "--format", "json"), ("export", "--format", "csv"), ("export", "--format", "geojson")):
        r = cli("--lang", lang, *args)
        assert r.code == 0, (args, r.err)
        assert not _leaks(r.out), (args, _leaks(r.out))
    r = cli("--lang", lang, "show", "R-0001", "--json")
    p = r.json()["parties"][0]
    assert (p["id"], p["phone"], p["name"]) == ("1101**********002X", "138****5678", "欧***")
    assert "欧***反映" in r.json()["details"]
    x = tmp_path / "r.xlsx"
    assert cli("export", "--format", "xlsx", "--out", str(x)).code == 0
    import zipfile

    with zipfile.ZipFile(x) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
    assert not _leaks(blob.decode("utf-8", "replace"))
    # nothing was revealed, so nothing is in the audit log
    assert cli("audit", "--json").json() == []


def test_reveal_is_audited(cli, one, home):
    r = cli("show", "R-0001", "--reveal", "--json")
    assert r.code == 0 and r.json()["parties"][0]["id"] == ID and NAME in r.json()["details"]
    r = cli("list", "--reveal", "--json")
    assert r.code == 0 and r.json()[0]["parties"][0]["phone"] == PHONE
    log = [json.loads(line) for line in (home / "audit.log").read_text(encoding="utf-8").splitlines()]
    assert [e["command"] for e in log] == ["show", "list"]
    assert all(e["officer_id"] == "A1024" and e["name"] == "王芳" and e["ts"] for e in log)
    assert log[0]["entities"] == [one["id"]]
    assert oct((home / "audit.log").stat().st_mode)[-3:] == "600"
    # the log holds who/when/what, never the revealed data itself
    assert not _leaks((home / "audit.log").read_text(encoding="utf-8"))
    r = cli("export", "--format", "json", "--reveal")
    assert r.code == 0 and ID in r.out
    r = cli("audit", "--json")
    assert [e["command"] for e in r.json()] == ["show", "list", "export"]
    r = cli("audit")
    assert r.code == 0 and "A1024" in r.out and "show" in r.out
    r = cli("--lang", "zh", "audit", "--limit", "1")
    assert r.code == 0 and "警号" in r.out and "export" in r.out and "show" not in r.out
    r = cli("audit", "--limit", "-1")
    assert r.code == 2 and r.err.count("\n") == 1


def test_secrets_never_in_any_output(cli, one, home, monkeypatch):
    from fieldreport import profile as prof
    from fieldreport.paths import resolve

    prof.write_token(resolve(), TOKEN)
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", PASS)
    assert cli("encrypt").code == 0
    outs = []
    for args in (("status",), ("status", "--json"), ("list",), ("show", "R-0001", "--reveal"), ("verify", "--json"),
                 ("purge", "--dry-run", "--json"), ("audit",), ("sync", "--dry-run", "--json"), ("encrypt", "--json"),
                 ("--help",), ("sync", "--hub", "http://127.0.0.1:9", "--max-time", "1", "--json")):
        r = cli(*args)
        outs.append(r.out + r.err)
    joined = "\n".join(outs)
    assert TOKEN not in joined and PASS not in joined
    for f in home.rglob("*"):
        if f.is_file() and f.suffix in (".log", ".json", ".txt"):
            text = f.read_text(encoding="utf-8", errors="replace")
            assert TOKEN not in text or f.name == "token", f
            assert PASS not in text, f


def test_crash_log_is_scrubbed(cli, one, home, monkeypatch):
    """An unexpected exception whose message carries a token, a passphrase and an ID number:
    one line on stderr, no traceback, and the crash log holds none of them."""
    from fieldreport import profile as prof
    from fieldreport import reports
    from fieldreport.paths import resolve

    prof.write_token(resolve(), TOKEN)
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", PASS)

    def boom(*a, **k):
        raise RuntimeError(f"hub said 401 for Authorization: Bearer {TOKEN} while {PASS} opened id {ID} "
                           f"phone {PHONE} token={TOKEN}")

    monkeypatch.setattr(reports, "add", boom)
    r = cli("add", "--kind", "zero", "--title", "本月零报告", "--no-input")
    assert r.code == 1 and r.err.count("\n") == 1 and "Traceback" not in r.err and "crash.log" in r.err
    assert TOKEN not in r.err and PASS not in r.err and ID not in r.err
    log = (home / "crash.log").read_text(encoding="utf-8")
    assert "RuntimeError" in log and "Traceback" in log
    for secret in (TOKEN, PASS, ID, PHONE):
        assert secret not in log, secret
    assert "1101**********002X" in log and "138****5678" in log
    assert oct((home / "crash.log").stat().st_mode)[-3:] == "600"
    r = cli("--lang", "zh", "add", "--kind", "zero", "--title", "本月零报告", "--no-input")
    assert r.code == 1 and "内部错误" in r.err


def test_scrub():
    from fieldreport.privacy import scrub

    s = scrub(f"Authorization: Bearer {TOKEN}\npassphrase='{PASS}' token={TOKEN} {ID} {PHONE}", (PASS, TOKEN))
    assert TOKEN not in s and PASS not in s and ID not in s and PHONE not in s
    assert scrub("nothing secret here: R-0001") == "nothing secret here: R-0001"


def test_a_typed_passphrase_is_not_echoed(home, profile, tmp_path):
    """On a real terminal (pexpect): encrypt asks twice, a mismatch changes nothing, and the
    passphrase never appears on the screen."""
    pexpect = pytest.importorskip("pexpect")
    import sys

    env = {k: v for k, v in os.environ.items() if k != "FIELDREPORT_PASSPHRASE"}
    child = pexpect.spawn(sys.executable, ["-m", "fieldreport", "encrypt"], env=env, timeout=60, encoding="utf-8")
    child.expect("Passphrase: ")
    child.sendline("first passphrase 1")
    child.expect("Passphrase again: ")
    child.sendline("other passphrase 2")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2 and "first passphrase" not in child.before
    assert not (home / "fieldreport.key").exists()
    child = pexpect.spawn(sys.executable, ["-m", "fieldreport", "encrypt"], env=env, timeout=60, encoding="utf-8")
    child.expect("Passphrase: ")
    child.sendline(PASS)
    child.expect("Passphrase again: ")
    child.sendline(PASS)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and PASS not in child.before and "Encrypted" in child.before
    child = pexpect.spawn(sys.executable, ["-m", "fieldreport", "list", "--json"], env=env, timeout=60,
                          encoding="utf-8")
    child.expect("Passphrase: ")
    child.sendline(PASS)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and PASS not in child.before
