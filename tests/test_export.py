"""`fieldreport export`: every format read back with the tool people would use (csv module,
json, a GeoJSON structure check as QGIS/OGR expects it, openpyxl); masking as on screen."""

import csv
import io
import json
import math

import pytest

from fieldreport import exporting

ID = "11010519491231002X"
PHONE = "13812345678"


@pytest.fixture
def reports(cli, profile):
    def add(*args):
        r = cli("add", *args, "--no-input", "--json")
        assert r.code == 0, r.err
        return r.json()

    a = add("--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", "邻里纠纷 漏水",
            "--details", f"张三电话{PHONE}，身份证{ID}", "--place", "东村3组12号", "--lat", "30.5912", "--lon", "114.3055",
            "--party", f"name=张三;role=applicant;phone={PHONE};id={ID}", "--party", "name=李四;role=respondent")
    b = add("--kind", "hazard", "--category", "fire", "--level", "red", "--title", "=HYPERLINK(\"x\") 消防通道堵塞",
            "--place", "西村村委会", "--lat", "30.6", "--lon", "114.2")
    c = add("--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
            "--place", "东村5组")
    r = cli("update", c["ref"], "--status", "routed")
    assert r.code == 0, r.err
    return a, b, c


def _read_csv(raw: bytes):
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_round_trip_masked(cli, reports, tmp_path):
    out = tmp_path / "r.csv"
    r = cli("export", "--format", "csv", "--out", out)
    assert r.code == 0, r.err
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = _read_csv(raw)
    assert [x["ref"] for x in rows] == ["R-0001", "R-0002", "R-0003"]
    assert list(rows[0]) == list(exporting.COLUMNS)
    d = rows[0]
    assert d["kind"] == "dispute" and d["category_name"] == "neighbours" and d["status"] == "registered"
    assert float(d["lat"]) == pytest.approx(30.5912) and float(d["lon"]) == pytest.approx(114.3055)
    assert ID not in raw.decode() and PHONE not in raw.decode()
    assert "138****5678" in d["parties"] and "1101**********002X" in d["parties"] and "张*" in d["parties"]
    assert "138****5678" in d["details"]
    assert rows[2]["status"] == "routed" and rows[2]["synced"] == "False"
    assert (out.stat().st_mode & 0o777) == 0o600


def test_csv_excel_bom_and_formula_defused(cli, reports, tmp_path):
    out = tmp_path / "r.csv"
    assert cli("export", "--excel", "--out", out).code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _read_csv(raw)
    assert rows[1]["title"].startswith("'=HYPERLINK")
    # no --excel: the data exactly as entered
    r = cli("export")
    assert r.code == 0
    assert _read_csv(r.out.encode())[1]["title"].startswith("=HYPERLINK")


def test_reveal_unmasks_and_is_audited(cli, reports, home):
    r = cli("export", "--format", "json", "--reveal")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["masked"] is False
    p = doc["reports"][0]["parties"][0]
    assert p["phone"] == PHONE and p["id"] == ID and p["name"] == "张三"
    lines = (home / "audit.log").read_text().splitlines()
    entry = json.loads(lines[-1])
    assert entry["command"] == "export" and entry["count"] == 3
    assert reports[0]["id"] in entry["entities"]


def test_json_filters(cli, reports):
    def refs(*args):
        r = cli("export", "--format", "json", *args)
        assert r.code == 0, r.err
        doc = json.loads(r.out)
        assert doc["format"] == "fieldreport-export" and doc["count"] == len(doc["reports"])
        return [x["ref"] for x in doc["reports"]]

    assert refs() == ["R-0001", "R-0002", "R-0003"]
    assert refs("--kind", "隐患") == ["R-0002", "R-0003"]
    assert refs("--kind", "hazard", "--status", "routed") == ["R-0003"]
    assert refs("--status", "已登记") == ["R-0001", "R-0002"]
    assert refs("--since", "1d") == ["R-0001", "R-0002", "R-0003"]
    assert refs("--since", "2999-01-01") == []
    assert refs("--area", "东村") == ["R-0001", "R-0002", "R-0003"]  # the profile's area
    assert refs("--area", "西村") == ["R-0002"]  # a place in another village
    masked = json.loads(cli("export", "--format", "json").out)
    assert masked["masked"] is True and masked["reports"][0]["parties"][0]["phone"] == "138****5678"


def test_geojson_structure(cli, reports, tmp_path):
    out = tmp_path / "r.geojson"
    r = cli("export", "--format", "geojson", "--out", out)
    assert r.code == 0, r.err
    assert "without coordinates" in r.err
    doc = json.loads(out.read_text(encoding="utf-8"))
    # RFC 7946 as OGR/QGIS reads it: a FeatureCollection of Features with Point geometry
    assert doc["type"] == "FeatureCollection" and isinstance(doc["features"], list)
    assert "crs" not in doc  # RFC 7946: WGS 84 implied
    assert len(doc["features"]) == 2  # R-0003 has no coordinates
    keys = None
    for f in doc["features"]:
        assert f["type"] == "Feature" and set(f) >= {"type", "geometry", "properties"}
        g = f["geometry"]
        assert g["type"] == "Point" and len(g["coordinates"]) == 2
        lon, lat = g["coordinates"]
        assert all(isinstance(v, float) and math.isfinite(v) for v in (lon, lat))
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        # properties are flat scalars (QGIS shows them as attribute columns), same keys everywhere
        assert all(v is None or isinstance(v, (str, int, float, bool)) for v in f["properties"].values())
        keys = keys or set(f["properties"])
        assert set(f["properties"]) == keys
    first = doc["features"][0]
    assert first["geometry"]["coordinates"] == [114.3055, 30.5912]  # [lon, lat]
    assert first["properties"]["ref"] == "R-0001" and "138****5678" in first["properties"]["parties"]


def test_xlsx_one_sheet_per_kind(cli, reports, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    r = cli("export", "--format", "xlsx", "--out", out, "--json")
    assert r.code == 0, r.err
    assert r.json()["count"] == 3
    wb = load_workbook(out)
    assert wb.sheetnames == ["dispute", "safety hazard"]  # English interface: kind names in English
    haz = list(wb["safety hazard"].iter_rows(values_only=True))
    assert haz[0] == exporting.COLUMNS
    assert [row[0] for row in haz[1:]] == ["R-0002", "R-0003"]
    title = haz[1][exporting.COLUMNS.index("title")]
    assert title.startswith("=HYPERLINK")  # kept as text, not turned into a formula
    assert wb["safety hazard"].cell(row=2, column=exporting.COLUMNS.index("title") + 1).data_type == "s"
    dis = list(wb["dispute"].iter_rows(values_only=True))
    assert dis[1][exporting.COLUMNS.index("lat")] == pytest.approx(30.5912)
    assert PHONE not in str(dis)


def test_xlsx_sheets_named_in_chinese(cli, reports, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    assert cli("--lang", "zh", "export", "--format", "xlsx", "--out", out).code == 0
    assert load_workbook(out).sheetnames == ["矛盾纠纷", "安全隐患"]


@pytest.mark.parametrize("args,field", [
    (("--format", "pdf"), "format"),
    (("--format", "xlsx"), "out"),
    (("--kind", "robbery"), "kind"),
    (("--status", "lost"), "status"),
    (("--since", "yesterday-ish"), "since"),
    (("--out", "/nonexistent/dir/x.csv"), "out"),
])
def test_bad_input(cli, reports, tmp_path, home, args, field):
    before = sorted(p.name for p in tmp_path.iterdir())
    r = cli("export", *args)
    assert r.code == 2
    assert r.err.count("\n") == 1 and r.err.startswith("fieldreport: ") and "Traceback" not in r.err
    assert field in r.err
    assert r.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (home / "audit.log").exists()
