"""HTTPS straight from ``fieldreport hub serve --cert --key``: a laptop that names the
station's certificate with --ca-bundle enrolls and syncs; one that does not is refused."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest

from hubfixtures import ProcessHub


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "城关派出所 hub")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "hub.pem", tmp_path / "hub.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_hub(tmp_path):
    cert, key = _self_signed(tmp_path)
    h = ProcessHub(tmp_path / "tlshub", f"sqlite:///{tmp_path / 'tlshub' / 'hub.db'}", cert=cert, key=key).start()
    yield h, cert
    h.close()


def test_https_login_and_sync_with_the_stations_certificate(cli, profile, tls_hub, home):
    hub, cert = tls_hub
    assert hub.url.startswith("https://")
    r = cli("login", hub.url, hub.enroll())
    assert r.code == 1 and "TLS" in r.err and "--ca-bundle" in r.err and r.err.count("\n") == 1
    assert not (home / "token").exists()
    r = cli("login", hub.url, hub.enroll(), "--ca-bundle", cert)
    assert r.code == 0, r.err
    assert cli("add", "--kind", "hazard", "--category", "fire", "--level", "major", "--title", "消防通道堵塞",
               "--no-input").code == 0
    r = cli("sync", "--ca-bundle", cert, "--json")
    assert r.code == 0, (r.out, r.err)
    assert [x["title"] for x in hub.store.station().reports()] == ["消防通道堵塞"]


def test_serve_tls_options_checked(cli, tmp_path):
    data = str(tmp_path / "h")
    assert cli("hub", "init", "--data", data).code == 0
    for args in (("--cert", "x.pem"), ("--cert", "/nonexistent.pem", "--key", "/nonexistent.key"),
                 ("--log-level", "loud")):
        r = cli("hub", "serve", "--data", data, *args)
        assert r.code == 2 and r.err.count("\n") == 1, args
