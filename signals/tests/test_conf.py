"""signals.conf reads each setting from config/settings.py, the only place its default lives."""

from __future__ import annotations

import inspect

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from signals import conf

READERS = [
    function
    for name, function in inspect.getmembers(conf, inspect.isfunction)
    if function.__module__ == conf.__name__
    and not name.startswith("_")
    and name != "setting"
    and not inspect.signature(function).parameters
]


def test_it_has_no_second_table_of_defaults():
    assert not hasattr(conf, "DEFAULTS")


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_it_finds_every_setting_it_reads_in_the_settings_module(reader):
    reader()


def test_it_follows_the_settings_module_at_call_time():
    with override_settings(SIGNAL_STREAM="elsewhere", SIGNAL_MAX_DELIVERIES=9):
        assert conf.stream_name() == "elsewhere"
        assert conf.max_deliveries() == 9
    assert conf.stream_name() == settings.SIGNAL_STREAM


def test_it_names_a_setting_the_settings_module_lacks():
    with pytest.raises(ImproperlyConfigured, match="SIGNAL_NOT_A_SETTING"):
        conf.setting("SIGNAL_NOT_A_SETTING")
