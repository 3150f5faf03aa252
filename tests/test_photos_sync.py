"""Issue 8 end to end, real hub on loopback: `sync` sends the transmission copy, not the original;
`hub request-original` puts `blob.request_original` in the pull feed; the next `sync` sends the
original; `sync --originals` sends every original; `status` counts what is left."""

from __future__ import annotations

import hashlib
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from photo_bench import make_photo  # noqa: E402

pytest.importorskip("fieldreport.sync.engine")

ADD = ("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
       "--no-input", "--json")


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def laptop(cli, profile, home, hub):
    from fieldreport import profile as prof
    from fieldreport.paths import resolve
    from fieldreport.store import Store

    paths = resolve()
    with Store.open(paths.store) as st:
        device_id = st.meta("device_id")
    dev = hub.device(device_id=device_id)
    p = prof.load(paths)
    p.hub_url = hub.url
    prof.save(paths, p)
    prof.write_token(paths, dev.token)
    return paths


def hub_has(hub, *hashes) -> list[bool]:
    from fieldreport.hub.blobs import HubBlobs

    missing = set(HubBlobs(hub.data_dir / "blobs").missing(list(hashes)))
    return [h not in missing for h in hashes]


def test_copy_first_original_on_request(cli, laptop, hub, tmp_path):
    a = make_photo(tmp_path / "a.jpg", seed=1)
    b = make_photo(tmp_path / "b.jpg", seed=2)
    add = cli(*ADD, "--photo", str(a), "--photo", str(b))
    assert add.code == 0, add.err
    from fieldreport.store import Store

    with Store.open(laptop.store) as st:
        copies = [r[0] for r in st.conn.execute(
            "SELECT copy_sha256 FROM photo_copies WHERE original_sha256 IN (?, ?) ORDER BY original_sha256 = ?",
            (sha(a), sha(b), sha(b)))]
    r = cli("sync")
    assert r.code == 0, r.err + r.out
    assert hub_has(hub, *copies) == [True, True]
    assert hub_has(hub, sha(a), sha(b)) == [False, False], "originals stay on the laptop over a weak link"
    assert cli("status", "--json").json()["originals_local_only"]["count"] == 2
    # the hub report names the originals; the station asks for them
    case = cli("show", add.json()["ref"], "--json").json()["case_code"]
    assert case
    rq = cli("hub", "request-original", case, "--data", str(hub.data_dir), "--photo", sha(a)[:10], "--json")
    assert rq.code == 0, rq.err
    assert rq.json()["requested"] == [sha(a)]
    bad = cli("hub", "request-original", case, "--data", str(hub.data_dir), "--photo", "ffff0000")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1
    r = cli("sync")
    assert r.code == 0, r.err + r.out
    assert hub_has(hub, sha(a), sha(b)) == [True, False]
    from fieldreport import photos

    with Store.open(laptop.store) as st:
        assert photos.original_confirmed(st, sha(a)) and not photos.original_confirmed(st, sha(b))
    assert cli("status", "--json").json()["originals_local_only"]["count"] == 1
    again = cli("hub", "request-original", case, "--data", str(hub.data_dir))
    assert again.code == 0 and "1 original" in again.out
    # on the station's Wi-Fi: everything
    r = cli("sync", "--originals")
    assert r.code == 0, r.err + r.out
    assert hub_has(hub, sha(a), sha(b)) == [True, True]
    assert cli("status", "--json").json()["originals_local_only"] == {"count": 0, "bytes": 0}
    done = cli("hub", "request-original", case, "--data", str(hub.data_dir))
    assert done.code == 0 and "already holds every original" in done.out
