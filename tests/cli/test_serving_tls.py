"""Which pair `aiplane up` serves, and the warning for plain HTTP off loopback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aiplane.cli import serving_tls
from aiplane.domain.errors import InvalidInput
from aiplane.settings import Settings


def _settings(tmp_path: Path, **server: object) -> Settings:
    base = Settings.from_env({}, server__data_dir=tmp_path)
    return dataclasses.replace(base, server=dataclasses.replace(base.server, **server))


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                          ("0.0.0.0", True), ("10.1.2.3", True), ("example.org", True)])
def test_plain_http_off_loopback_prints_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str,
                                                  warned: bool):
    _, server_tls = serving_tls.resolve(_settings(tmp_path, host=host))
    assert server_tls is None
    err = capsys.readouterr().err
    assert ("not a loopback address" in err) is warned


def test_tls_off_loopback_prints_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    settings, server_tls = serving_tls.resolve(_settings(tmp_path, host="0.0.0.0", tls_self_signed=True))
    assert server_tls is not None and settings.server.tls_cert.endswith("server.crt")
    out = capsys.readouterr()
    assert "Warning" not in out.err and "SHA-256" in out.out


def test_self_signed_is_made_once_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    first, _ = serving_tls.resolve(_settings(tmp_path, tls_self_signed=True))
    again, _ = serving_tls.resolve(_settings(tmp_path, tls_self_signed=True))
    assert first.server.tls_cert == again.server.tls_cert
    out = capsys.readouterr().out
    assert out.count("Created") == 1 and out.count("Using") == 1


@pytest.mark.parametrize("server", [{"tls_cert": "a.crt"}, {"tls_key": "a.key"},
                                    {"tls_self_signed": True, "tls_cert": "a.crt", "tls_key": "a.key"}])
def test_half_a_tls_configuration_is_refused_in_one_sentence(tmp_path: Path, server: dict[str, object]):
    with pytest.raises(InvalidInput, match="--tls"):
        serving_tls.resolve(_settings(tmp_path, **server))
