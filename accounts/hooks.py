"""Django signals through which apps above `accounts` add to its pages.

Imports point one way (accounts ← trading ← … ← billing), so the settings page asks here and
the apps that own the figures answer (their receivers are connected in their `AppConfig.ready`).
"""

from __future__ import annotations

from django.dispatch import Signal

# Asked for what the settings page shows besides the account's own rows. kwargs: user. A
# receiver answers with a dict of template context (billing: `plan`, the plan in force).
settings_context_requested = Signal()


def settings_context(*, user) -> dict:
    """The context the higher apps add to `user`'s settings page."""
    context: dict = {}
    for _receiver, answer in settings_context_requested.send(sender=None, user=user):
        context.update(answer or {})
    return context
