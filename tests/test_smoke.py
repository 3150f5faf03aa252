def test_version(cli):
    r = cli("--version")
    assert r.code == 0 and r.out.startswith("fieldreport ")


def test_add_and_list(cli, profile):
    r = cli("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
            "--no-input", "--json")
    assert r.code == 0, r.err
    assert r.json()["ref"] == "R-0001"
    r = cli("list", "--json", "--search", "电动车")
    assert [x["ref"] for x in r.json()] == ["R-0001"]
