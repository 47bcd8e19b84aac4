"""Broker secrets are ciphertext at rest, shown only by their last four characters, and the
rotation command re-encrypts them under a new key."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts.crypto import _fernet
from accounts.models import BrokerConnection
from accounts.services import broker_connection_create

pytestmark = pytest.mark.django_db

KEY = "PKTESTKEY1234567890"
SECRET = "sEcReT-very-long-alpaca-secret-0000"


def raw_columns(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, api_secret FROM accounts_brokerconnection WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def test_secrets_are_ciphertext_in_the_database(owner):
    created = broker_connection_create(
        owner=owner, account_type="paper", api_key=KEY, api_secret=SECRET
    )
    raw_key, raw_secret = raw_columns(created.pk)
    assert KEY not in raw_key
    assert SECRET not in raw_secret
    assert raw_secret.startswith("gAAAA")  # a Fernet token
    loaded = BrokerConnection.objects.get(pk=created.pk)
    assert (loaded.api_key, loaded.api_secret) == (KEY, SECRET)
    assert loaded.key_last4 == "7890"


def test_rotation_re_encrypts_under_the_new_key(owner, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    created = broker_connection_create(
        owner=owner, account_type="paper", api_key=KEY, api_secret=SECRET
    )
    before = raw_columns(created.pk)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    _fernet.cache_clear()
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Re-encrypted 1" in out.getvalue()
    after = raw_columns(created.pk)
    assert after != before
    # Readable with the new key alone: the old one can now be dropped.
    assert Fernet(new_key.encode()).decrypt(after[1].encode()).decode() == SECRET
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    _fernet.cache_clear()
    assert BrokerConnection.objects.get(pk=created.pk).api_secret == SECRET
    _fernet.cache_clear()


def test_input_is_validated_and_one_connection_per_kind(owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        broker_connection_create(owner=owner, account_type="demo", api_key="x", api_secret="y")
    assert set(error.value.message_dict) == {"account_type", "api_key", "api_secret"}
    broker_connection_create(owner=owner, account_type="live", api_key=KEY, api_secret=SECRET)
    with pytest.raises(ValidationError):
        broker_connection_create(owner=owner, account_type="live", api_key=KEY, api_secret=SECRET)
    assert BrokerConnection.objects.count() == 1
