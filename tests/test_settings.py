from pathlib import Path

import pytest

from aiplane.domain.errors import InvalidInput
from aiplane.settings import Settings, documented_fields

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_every_setting_is_documented():
    text = DOCS.read_text()
    missing = [env for env, _ in documented_fields() if env not in text]
    assert not missing, f"undocumented settings: {missing}"


def test_every_setting_explains_its_default():
    assert all(len(doc) > 20 for _, doc in documented_fields())


def test_settings_come_from_the_environment_and_overrides_win():
    s = Settings.from_env({"AIPLANE_PORT": "9000", "AIPLANE_HOST": "0.0.0.0"}, server__port=9100)
    assert s.server.port == 9100 and s.server.host == "0.0.0.0"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("aiplane.db")


def test_a_bad_setting_is_one_clear_sentence():
    with pytest.raises(InvalidInput, match="AIPLANE_PORT has value 'http'"):
        Settings.from_env({"AIPLANE_PORT": "http"})
