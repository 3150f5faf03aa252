"""An inspection and its hazard reports reach a real hub on loopback; a station's template
and premises come back through pull and are used on the laptop."""

import json

import sqlalchemy as sa

from conftest import EXAMPLES


def test_inspection_syncs_to_the_hub_and_station_template_comes_back(cli, profile, home, hub, tmp_path):
    from sync_support import Laptop, assert_exactly_once

    assert cli("premises", "add", "--name", "东村旅社", "--type", "hotel", "--address", "东村3组8号").code == 0
    r = cli("checklist", "start", "P-0001", "--answers", str(EXAMPLES / "answers_demo.json"), "--json")
    assert r.code == 0, r.err
    iid = r.json()["inspection"]["id"]
    # the station publishes its own hotel template (JSON with id = name) before the laptop syncs
    from fieldreport.checklist import builtin

    body = builtin.builtins()["hotel"].body()
    body.update(name="station_hotel", id="station_hotel", version=2)
    f = tmp_path / "station_hotel.json"
    f.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    assert cli("checklist", "template", "validate", str(f)).code == 0
    hub.store.station().put_template(body)

    lap = Laptop(home, hub)
    try:
        lap.sync()
        assert_exactly_once(lap)
        states = dict(lap.store.conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        assert states == {"acked": sum(states.values())}, states  # nothing rejected
    finally:
        lap.close()
    with hub.store.engine.connect() as c:
        reps = c.execute(sa.text("SELECT id, case_code FROM reports")).all()
        assert len(reps) == 2 and all(r.case_code for r in reps)
        assert c.execute(sa.text("SELECT count(*) FROM inspections WHERE id = :i AND finished IS NOT NULL"),
                         {"i": iid}).scalar() == 1
        assert c.execute(sa.text("SELECT count(*) FROM answers WHERE inspection_id = :i"), {"i": iid}).scalar() == 18
    t = {x["name"]: x for x in cli("checklist", "templates", "--json").json()}
    assert t["station_hotel"]["source"] == "hub" and t["station_hotel"]["version"] == 2
    # the premises came back as premises.put and is unchanged locally
    rows = cli("premises", "list", "--json").json()
    assert len(rows) == 1 and rows[0]["ref"] == "P-0001" and rows[0]["source"] == "local"
