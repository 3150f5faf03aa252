"""Checklist templates: every built-in validates; bad templates give one error per problem
with its line and field; import is versioned and an inspection keeps its version."""

import json
import re
import sqlite3

import pytest

from conftest import EXAMPLES, ROOT
from fieldreport import taxonomy as tx
from fieldreport.checklist import builtin
from fieldreport.checklist.template import TemplateError, load_file, parse_text, validate

TEN = ("hotel", "internet_cafe", "rental_housing", "small_venue", "petrol_station", "hazchem_storage", "school",
       "parcel_logistics", "entertainment", "elderly_care")


@pytest.mark.parametrize("path", builtin.builtin_files(), ids=lambda p: p.stem)
def test_every_builtin_template_validates(path, cli):
    tpl = load_file(path)
    assert 10 <= len(tpl.items()) <= 20, f"{path.name}: {len(tpl.items())} items"
    assert tpl.premises_type == path.stem
    for _s, it in tpl.items():
        assert it.text.zh.strip() and it.text.en.strip()
        assert re.search(r"[\u4e00-\u9fff]", it.text.zh), f"{it.id}: zh text has no Chinese"
        for rule in it.fail:
            assert rule.code in tx.FAIL_CODES
        assert tpl.dept_for(it.id) in tx.DEPARTMENTS
        assert tpl.category_for(it.id) in tx.CATEGORIES["hazard"]
    # the common fire points apply: an exits item and an extinguishers item in every template
    ids = " ".join(it.id for _s, it in tpl.items())
    assert "exits" in ids or "routes" in ids
    assert "extinguisher" in ids
    r = cli("checklist", "template", "validate", str(path))
    assert r.code == 0, r.err
    assert "valid" in r.out


def test_all_ten_premises_types_have_a_builtin_template():
    have = {t.premises_type for t in builtin.builtins().values()}
    assert set(TEN) <= have
    assert all(t in tx.PREMISES_TYPES for t in have)


def test_builtin_wording_recommends_never_orders():
    for p in builtin.builtin_files():
        text = p.read_text(encoding="utf-8")
        assert "责令" not in text, p.name


def test_docs_example_validates():
    doc = (ROOT / "docs" / "checklists.md").read_text(encoding="utf-8")
    example = doc[doc.index("### Example"):]
    block = re.search(r"```toml\n(.*?)```", example, re.S).group(1)
    data, lines = parse_text(block, "toml")
    tpl = validate(data, lines)
    assert tpl.name == "village_shop" and len(tpl.items()) == 5
    assert tpl.item("exits_clear").fail[0].if_item == "open_now"


BAD = """\
format = 1
name = "bad"
version = 1
premises_type = "hotel"
title = { zh = "坏模板", en = "Bad" }

[[sections]]
id = "s1"
title = { zh = "一", en = "One" }

[[sections.items]]
id = "exits"
text = { zh = "出口畅通？", en = "Exits clear?" }
type = "yesno"
fail = { when = "no", code = "R" }

[[sections.items]]
id = "exits"
text = { zh = "出口畅通2？", en = "Exits clear 2?" }
type = "yesno"

[[sections.items]]
id = "count"
text = { zh = "数量", en = "Count" }
type = "integer"

[[sections.items]]
id = "locked"
text = { zh = "锁闭？", en = "Locked?" }
type = "yesno"
fail = { when = "yes", if_item = "crowded", if_answer = "yes", code = "M" }
"""


def test_bad_template_gives_one_error_per_problem_with_line():
    data, lines = parse_text(BAD, "toml")
    with pytest.raises(TemplateError) as ei:
        validate(data, lines, source="bad.toml")
    probs = ei.value.problems
    assert len(probs) == 3, [str(p) for p in probs]
    by_field = {p.field: p for p in probs}
    dup = by_field["sections[0].items[1].id"]
    assert "duplicate item id 'exits'" in dup.message and dup.line == 18
    typ = by_field["sections[0].items[2].type"]
    assert "unknown answer type 'integer'" in typ.message and typ.line == 25
    ref = by_field["sections[0].items[3].fail[0].if_item"]
    assert "no item 'crowded'" in ref.message and ref.line == 31


def test_validate_cli_lists_every_problem(cli, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(BAD, encoding="utf-8")
    r = cli("checklist", "template", "validate", str(f))
    assert r.code == 2
    lines = [ln for ln in r.err.splitlines() if ln.startswith("bad.toml: line")]
    assert len(lines) == 3, r.err
    assert "line 18" in lines[0] and "line 25" in lines[1] and "line 31" in lines[2]
    assert "Traceback" not in r.err


def test_json_template_errors_carry_lines(tmp_path, cli):
    body = json.loads(json.dumps(validate(*parse_text(BAD.replace('"integer"', '"number"').replace(
        'id = "exits"\ntext = { zh = "出口畅通2？"', 'id = "exits2"\ntext = { zh = "出口畅通2？"').replace(
        'if_item = "crowded", if_answer = "yes", ', ''), "toml")).body()))
    body["sections"][0]["items"][1]["type"] = "yes_no"
    body["sections"][0]["items"][0]["fail"][0]["code"] = "X"
    f = tmp_path / "bad.json"
    text = json.dumps(body, ensure_ascii=False, indent=2)
    f.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as ei:
        load_file(f)
    probs = {p.field: p for p in ei.value.problems}
    assert set(probs) == {"sections[0].items[1].type", "sections[0].items[0].fail[0].code"}
    src = text.splitlines()
    assert '"yes_no"' in src[probs["sections[0].items[1].type"].line - 1]
    assert '"X"' in src[probs["sections[0].items[0].fail[0].code"].line - 1]


def test_more_semantic_problems():
    raw = {"format": 1, "name": "t", "version": 1, "premises_type": "旅馆业", "title": {"zh": "甲", "en": "a"},
           "sections": [{"id": "s", "title": {"zh": "甲", "en": "a"}, "items": [
               {"id": "c", "text": {"zh": "甲", "en": "a"}, "type": "choice",
                "options": [{"id": "x", "text": {"zh": "甲", "en": "a"}}], "fail": {"when": "y", "code": "R"}},
               {"id": "n", "text": {"zh": "甲", "en": "a"}, "type": "number", "min": 5, "max": 1,
                "fail": {"when": "no", "code": "R"}},
               {"id": "t", "text": {"zh": "甲", "en": "a"}, "type": "text", "fail": {"when": "no", "code": "I"},
                "dept": "nowhere"},
           ]}]}
    with pytest.raises(TemplateError) as ei:
        validate(raw)
    fields = sorted(p.field for p in ei.value.problems)
    assert fields == ["sections[0].items[0].fail[0].when", "sections[0].items[1].fail[0].when",
                      "sections[0].items[1].min", "sections[0].items[2].dept", "sections[0].items[2].fail[0].when"]


def test_import_is_versioned_and_inspection_keeps_its_version(cli, profile, tmp_path, home):
    doc = (ROOT / "docs" / "checklists.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", doc[doc.index("### Example"):], re.S).group(1)
    v1 = tmp_path / "shop.toml"
    v1.write_text(block, encoding="utf-8")
    assert cli("checklist", "template", "import", str(v1)).code == 0
    r = cli("checklist", "template", "import", str(v1))
    assert r.code == 0 and "unchanged" in r.out
    changed = tmp_path / "shop_changed.toml"
    changed.write_text(block.replace("村级小商店检查", "村级小商店检查（新）"), encoding="utf-8")
    r = cli("checklist", "template", "import", str(changed))
    assert r.code == 2 and "version 2" in r.err
    assert cli("premises", "add", "--name", "小卖部", "--type", "small_venue").code == 0
    ans = tmp_path / "a.json"
    ans.write_text(json.dumps({"open_now": "yes", "exits_clear": "no", "extinguishers": 3, "wiring": "conduit"}))
    r = cli("checklist", "start", "P-0001", "--answers", str(ans), "--json")
    assert r.code == 0, r.err
    assert r.json()["failed"]["M"] == 1  # the if_item rule: locked while open is major
    v2 = tmp_path / "shop_v2.toml"
    v2.write_text(block.replace("version = 1", "version = 2").replace(
        '[[sections.items]]\nid = "remarks"', '[[sections.items]]\nid = "night"\ntext = { zh = "夜间值守？", en = "Night '
        'watch?" }\ntype = "yesno"\n\n[[sections.items]]\nid = "remarks"'), encoding="utf-8")
    assert cli("checklist", "template", "import", str(v2)).code == 0
    r = cli("checklist", "template", "show", "village_shop", "--json")
    assert r.json()["version"] == 2 and "night" in [i["id"] for s in r.json()["sections"] for i in s["items"]]
    # the station's template wins for its type; the old inspection keeps version 1
    rows = cli("checklist", "list", "--json").json()
    assert rows[0]["template"] == "village_shop" and rows[0]["template_version"] == 1
    db = sqlite3.connect(home / "fieldreport.db")
    assert db.execute("SELECT count(*) FROM checklist_templates WHERE name = 'village_shop'").fetchone()[0] == 2


def test_template_show_json_lists_item_ids(cli):
    r = cli("checklist", "template", "show", "hotel", "--json")
    assert r.code == 0, r.err
    ids = [i["id"] for s in r.json()["sections"] for i in s["items"]]
    assert "exits_clear" in ids and len(ids) == len(set(ids))
    r = cli("checklist", "templates", "--json")
    assert {t["name"] for t in r.json()} >= set(TEN)
    r = cli("checklist", "template", "show", "nope")
    assert r.code == 6 and "no template" in r.err


def test_answers_example_matches_demo_template():
    entries = json.loads((EXAMPLES / "answers_demo.json").read_text(encoding="utf-8"))
    tpl = builtin.builtins()["hotel"]
    assert set(entries) <= {it.id for _s, it in tpl.items()}


def test_import_of_a_bad_template_is_one_line_and_writes_nothing(cli, profile, tmp_path, home):
    f = tmp_path / "bad.toml"
    f.write_text(BAD, encoding="utf-8")
    r = cli("checklist", "template", "import", str(f))
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and "line 18" in r.err and "2 more problem(s)" in r.err
    db = sqlite3.connect(home / "fieldreport.db")
    assert db.execute("SELECT count(*) FROM checklist_templates").fetchone()[0] == 0
