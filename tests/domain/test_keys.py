from datetime import datetime, timedelta, timezone

from aiplane.domain import keys
from aiplane.domain.keys import KeyRecord
from aiplane.domain.roles import Role


def test_issued_keys_are_random_and_stored_only_as_their_hash():
    a, b = keys.issue(), keys.issue()
    assert a.secret != b.secret and a.key_id != b.key_id
    assert a.secret not in a.hash and len(a.hash) == 64
    assert keys.matches(a.secret, a.hash)
    assert not keys.matches(b.secret, a.hash)


def test_key_id_is_read_from_well_formed_keys_only():
    issued = keys.issue()
    assert keys.key_id_of(issued.secret) == issued.key_id
    for bad in ["", "Bearer x", "aip_short_x", issued.secret + "x", issued.secret.replace("aip", "abc")]:
        assert keys.key_id_of(bad) is None


def test_expired_and_revoked_keys_are_not_usable():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    base = KeyRecord("id", "h", Role.PREDICTOR, "t", "n", now, None, None)
    assert base.usable_at(now)
    expired = KeyRecord("id", "h", Role.PREDICTOR, "t", "n", now, now + timedelta(seconds=1), None)
    assert expired.usable_at(now) and not expired.usable_at(now + timedelta(seconds=1))
    revoked = KeyRecord("id", "h", Role.PREDICTOR, "t", "n", now, None, now)
    assert not revoked.usable_at(now)
