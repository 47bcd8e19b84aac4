"""The positions page's live rows: a coalesced `position_updated` event from the monitor sweep
becomes one out-of-band row per position of the user it lists (pipelines renders, trading
selects)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from pipelines.views import live_user_fragments
from trading.tests.test_monitor_sweep import steady_positions

pytestmark = pytest.mark.django_db


def test_it_pushes_a_row_for_each_of_the_users_positions_a_coalesced_event_lists(
    tmp_path, django_assert_max_num_queries
):
    owner, outsider = UserFactory.create_batch(2)
    _, positions = steady_positions(tmp_path, [owner, outsider])
    mine = [p for p in positions if p.owner_id == owner.pk]
    payload = {"event": "position_updated", "positions": [{"id": p.pk} for p in positions]}
    with django_assert_max_num_queries(2):  # the rows, and their pipelines' names
        fragments = live_user_fragments(user=owner, payload=payload, topics={"positions"})
    assert len(fragments) == len(mine) == 3
    for position, html in zip(sorted(mine, key=lambda p: p.symbol), fragments, strict=True):
        assert f'id="position-{position.pk}"' in html
        assert 'hx-swap-oob="true"' in html
    # The outsider's rows are never rendered for the owner; the single shape still works.
    single = {"event": "position_updated", "position": {"id": positions[-1].pk}}
    assert positions[-1].owner_id == outsider.pk
    assert live_user_fragments(user=owner, payload=single, topics={"positions"}) == []
    single["position"]["id"] = mine[0].pk
    assert len(live_user_fragments(user=owner, payload=single, topics={"positions"})) == 1
