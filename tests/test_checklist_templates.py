"""Checklist templates: every built-in validates; bad templates give one error per problem
with its line and field; import is versioned and an inspection keeps its version."""

import json
import re
import sqlite3

import pytest

from conftest import EXAMPLES, docs_template_example
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
    block = docs_template_example()
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
    block = docs_template_example()
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


# A template with the mistakes pydantic itself finds (not our validators): each must come out in
# the interface language, with its line and field, never in pydantic's English.
BAD_FIELDS = """\
format = 1
name = "bad_fields"
version = "two"
premises_type = "hotel"
title = { zh = "坏模板", en = "Bad" }
colour = "red"

[[sections]]
id = "s1"
title = { zh = "一", en = "One" }

[[sections.items]]
id = "exits"
text = { zh = "", en = "Exits clear?" }
type = "yesno"
required = "maybe"
deadline_days = -3

[[sections.items]]
id = "count"
text = { zh = "数量", en = "Count" }
unit = "个个个个个个个个个个个个个个个个个个个个个"
"""

PYDANTIC_ENGLISH = ("Input should", "String should", "Field required", "Extra inputs", "Value error",
                    "greater than", "valid integer", "valid boolean")


@pytest.fixture
def back_to_english():
    """``--lang zh`` switches the process's language; give the next test English back."""
    yield
    from fieldreport import i18n

    i18n.set_lang("en")


def test_pydantic_problems_in_the_interface_language(cli, profile, tmp_path, home, back_to_english):
    """The problems pydantic finds (empty text, missing field, unknown key, wrong types, bounds)
    are phrased by fieldreport in Chinese under --lang zh and in English under --lang en:
    one line each with its line number and field, exit 2, no traceback."""
    f = tmp_path / "bad.toml"
    f.write_text(BAD_FIELDS, encoding="utf-8")
    r = cli("--lang", "zh", "checklist", "template", "validate", str(f))
    assert r.code == 2 and "Traceback" not in r.err, r.err
    assert not any(w in r.err for w in PYDANTIC_ENGLISH), r.err
    assert r.err.splitlines() == [
        "bad.toml：第 3 行：version：必须是整数，而不是 'two'",
        "bad.toml：第 6 行：colour：未知字段；请删除或检查拼写",
        "bad.toml：第 14 行：sections[0].items[0].text.zh：不能为空",
        "bad.toml：第 16 行：sections[0].items[0].required：必须是 true 或 false，而不是 'maybe'",
        "bad.toml：第 17 行：sections[0].items[0].deadline_days：必须大于等于 0",
        "bad.toml：第 19 行：sections[0].items[1].type：缺失",
        "bad.toml：第 22 行：sections[0].items[1].unit：太长（最多 20 个字符）",
        "发现 7 个问题",
    ], r.err
    r = cli("--lang", "en", "checklist", "template", "validate", str(f))
    assert r.code == 2 and "Traceback" not in r.err, r.err
    assert not any(w in r.err for w in PYDANTIC_ENGLISH), r.err
    assert r.err.splitlines() == [
        "bad.toml: line 3: version: must be a whole number, not 'two'",
        "bad.toml: line 6: colour: unknown field; remove it or check its spelling",
        "bad.toml: line 14: sections[0].items[0].text.zh: must not be empty",
        "bad.toml: line 16: sections[0].items[0].required: must be true or false, not 'maybe'",
        "bad.toml: line 17: sections[0].items[0].deadline_days: must be 0 or more",
        "bad.toml: line 19: sections[0].items[1].type: missing",
        "bad.toml: line 22: sections[0].items[1].unit: too long (at most 20 characters)",
        "7 problem(s) found",
    ], r.err
    # import names the first problem on one line, in Chinese, and writes nothing
    r = cli("--lang", "zh", "checklist", "template", "import", str(f))
    assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err, r.err
    assert "第 3 行：version：必须是整数，而不是 'two'" in r.err and "另有 6 个问题" in r.err, r.err
    db = sqlite3.connect(home / "fieldreport.db")
    assert db.execute("SELECT count(*) FROM checklist_templates").fetchone()[0] == 0


def _small() -> dict:
    return {"format": 1, "name": "t", "version": 1, "premises_type": "hotel", "title": {"zh": "甲", "en": "a"},
            "sections": [{"id": "s", "title": {"zh": "甲", "en": "a"}, "items": [
                {"id": "n", "text": {"zh": "甲", "en": "a"}, "type": "number", "min": 0, "max": 10}]}]}


def _item(t: dict) -> dict:
    return t["sections"][0]["items"][0]


# (what to break, the field named, the Chinese message, the English one) — one per pydantic error type
PYDANTIC_CASES = [
    ("missing", lambda t: t.pop("premises_type"), "premises_type", "缺失", "missing"),
    ("extra_forbidden", lambda t: t.update(colour="red"), "colour", "未知字段；请删除或检查拼写",
     "unknown field; remove it or check its spelling"),
    ("string_type", lambda t: t["title"].update(zh=5), "title.zh", "必须是文字，而不是 5", "must be text, not 5"),
    ("string_too_short", lambda t: _item(t)["text"].update(en=""), "sections[0].items[0].text.en", "不能为空",
     "must not be empty"),
    ("string_too_long", lambda t: _item(t).update(basis="法" * 301), "sections[0].items[0].basis",
     "太长（最多 300 个字符）", "too long (at most 300 characters)"),
    ("int_type", lambda t: t.update(version=[1]), "version", "必须是整数", "must be a whole number"),
    ("int_parsing", lambda t: t.update(version="two"), "version", "必须是整数，而不是 'two'",
     "must be a whole number, not 'two'"),
    ("int_from_float", lambda t: t.update(version=1.5), "version", "必须是整数，而不是 1.5",
     "must be a whole number, not 1.5"),
    ("float_type", lambda t: _item(t).update(min=[0]), "sections[0].items[0].min", "必须是数字", "must be a number"),
    ("float_parsing", lambda t: _item(t).update(max="ten"), "sections[0].items[0].max", "必须是数字，而不是 'ten'",
     "must be a number, not 'ten'"),
    ("bool_type", lambda t: _item(t).update(required=[True]), "sections[0].items[0].required", "必须是 true 或 false",
     "must be true or false"),
    ("bool_parsing", lambda t: _item(t).update(required="maybe"), "sections[0].items[0].required",
     "必须是 true 或 false，而不是 'maybe'", "must be true or false, not 'maybe'"),
    ("literal_error", lambda t: t.update(format=2), "format", "2 不是允许的值；可选：1",
     "2 is not one of the allowed values; choose one of: 1"),
    ("list_type", lambda t: t.update(sections="s"), "sections", "必须是列表，而不是 's'", "must be a list, not 's'"),
    ("too_short", lambda t: t.update(sections=[]), "sections", "不能为空", "must not be empty"),
    ("too_long", lambda t: t["sections"][0].update(items=[dict(_item(t), id=f"n{i}") for i in range(201)]),
     "sections[0].items", "条目太多：201 项（最多 200 项）", "too many entries: 201 (at most 200)"),
    ("model_type", lambda t: t.update(title="Bad"), "title", "必须是表/对象，而不是 'Bad'",
     "must be a table/object, not 'Bad'"),
    ("greater_than_equal", lambda t: t.update(version=0), "version", "必须大于等于 1", "must be 1 or more"),
    ("less_than_equal", lambda t: _item(t).update(deadline_days=5000), "sections[0].items[0].deadline_days",
     "必须小于等于 3650", "must be 3650 or less"),
    ("value_error", lambda t: _item(t).update(dept="nowhere"), "sections[0].items[0].dept", "未知部门 'nowhere'；可选：",
     "unknown department 'nowhere'; choose one of: "),
]


@pytest.mark.parametrize("kind, breaks, field, zh, en", PYDANTIC_CASES, ids=[c[0] for c in PYDANTIC_CASES])
def test_each_pydantic_error_type_in_both_languages(kind, breaks, field, zh, en, back_to_english):
    from fieldreport import i18n

    raw = _small()
    breaks(raw)
    for lang, want in (("zh", zh), ("en", en)):
        i18n.set_lang(lang)
        with pytest.raises(TemplateError) as ei:
            validate(raw)
        probs = {p.field: p.message for p in ei.value.problems}
        assert list(probs) == [field], probs
        assert probs[field].startswith(want), (lang, probs)
        assert not any(w in probs[field] for w in PYDANTIC_ENGLISH), probs


def test_pydantic_messages_beyond_templates(back_to_english):
    """The mapping on pydantic's own errors of a model that is not a template: an enum, a dict,
    a longer minimum; a type it does not know keeps pydantic's English words."""
    import enum
    import uuid

    from pydantic import BaseModel, Field, ValidationError

    from fieldreport import i18n
    from fieldreport.pydantic_msgs import message

    class Colour(enum.Enum):
        red = "red"
        blue = "blue"

    class M(BaseModel):
        c: Colour
        d: dict[str, int]
        s: str = Field(min_length=3)
        ids: list[int] = Field(min_length=2)
        u: uuid.UUID

    with pytest.raises(ValidationError) as ei:
        M.model_validate({"c": "green", "d": 5, "s": "ab", "ids": [1], "u": "x"})
    errs = {e["loc"][0]: e for e in ei.value.errors()}
    i18n.set_lang("zh")
    assert message(errs["c"]) == "'green' 不是允许的值；可选：red blue"
    assert message(errs["d"]) == "必须是表/对象，而不是 5"
    assert message(errs["s"]) == "太短（至少 3 个字符）"
    assert message(errs["ids"]) == "条目太少：1 项（至少 2 项）"
    assert message(errs["u"]) == errs["u"]["msg"] and errs["u"]["type"] == "uuid_parsing"
    i18n.set_lang("en")
    assert message(errs["c"]) == "'green' is not one of the allowed values; choose one of: red blue"
    assert message(errs["ids"]) == "too few entries: 1 (at least 2)"


def test_a_stored_template_this_version_no_longer_accepts_is_a_clear_error(cli, profile, tmp_path, home):
    """Stored templates were validated when imported or pulled; one that a newer release's rules
    refuse is left out of the listing (the others still work) and named with the reason when
    asked for, never a traceback."""
    block = docs_template_example()
    f = tmp_path / "shop.toml"
    f.write_text(block, encoding="utf-8")
    assert cli("checklist", "template", "import", str(f)).code == 0
    db = sqlite3.connect(home / "fieldreport.db")
    body = json.loads(db.execute("SELECT body FROM checklist_templates WHERE name = 'village_shop'").fetchone()[0])
    body["sections"][0]["items"][0]["type"] = "colour"  # a type an older release knew, say
    db.execute("UPDATE checklist_templates SET body = ? WHERE name = 'village_shop'", (json.dumps(body),))
    db.commit()
    db.close()
    r = cli("checklist", "templates", "--json")
    assert r.code == 0, r.err
    names = {t["name"] for t in r.json()}
    assert "village_shop" not in names and set(TEN) <= names
    r = cli("checklist", "template", "show", "village_shop")
    assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert "village_shop version 1" in r.err and "sections.0.items.0" in r.err
