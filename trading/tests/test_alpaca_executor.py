"""The Alpaca executor through the real alpaca-py client against the loopback Alpaca fake."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import ClosePositionRequest, GetOrdersRequest

from trading.executors.alpaca import AlpacaExecutor
from trading.executors.base import BracketOrderRequest, ExecutionError

ORDERS = r"^/v2/orders$"
LOOKUPS = r"^/v2/orders:by_client_order_id$"


@pytest.fixture
def sleeps():
    """What the executor asked to sleep for (the backoff), without sleeping."""
    return []


def _executor(fake, sleeps, **options) -> AlpacaExecutor:
    options.setdefault("api_key", "test-key")
    options.setdefault("api_secret", "test-secret")
    return AlpacaExecutor(paper=True, url_override=fake.url, sleep=sleeps.append, **options)


@pytest.fixture
def executor(fake_alpaca, sleeps):
    fake_alpaca.set_price("AAPL", "150.00")
    fake_alpaca.set_price("TSLA", "200.00")
    return _executor(fake_alpaca, sleeps)


def bracket(client_order_id="tc-exec-1-trade-t1", **fields) -> BracketOrderRequest:
    values = {
        "client_order_id": client_order_id,
        "symbol": "AAPL",
        "side": "buy",
        "quantity": 10,
        "entry_price": Decimal("150.00"),
        "stop_loss": Decimal("148.00"),
        "target_1": Decimal("154.25"),
        "target_2": Decimal("158.00"),
        "take_profit": Decimal("154.25"),
    }
    values.update(fields)
    return BracketOrderRequest(**values)


def posts(fake) -> list[dict]:
    return fake.order_requests()


# --- submitting a bracket ---------------------------------------------------------------------


def test_it_sends_a_bracket_order_with_the_expected_payload(executor, fake_alpaca):
    result = executor.submit_bracket(bracket())

    (sent,) = posts(fake_alpaca)
    assert sent["symbol"] == "AAPL"
    assert sent["qty"] == 10
    assert sent["side"] == "buy"
    assert sent["type"] == "market"
    assert sent["time_in_force"] == "day"
    assert sent["order_class"] == "bracket"
    assert sent["take_profit"] == {"limit_price": 154.25}
    assert sent["stop_loss"] == {"stop_price": 148.0}
    assert sent["client_order_id"] == "tc-exec-1-trade-t1"
    # The id is looked up before anything is sent.
    first, second = fake_alpaca.requests[:2]
    assert (first.path, first.param("client_order_id")) == (LOOKUPS[1:-1], "tc-exec-1-trade-t1")
    assert (second.method, second.path) == ("POST", "/v2/orders")

    order = fake_alpaca.order_for("tc-exec-1-trade-t1")
    assert result.status == "filled"
    assert result.broker_order_id == order.id
    assert result.filled_quantity == 10
    assert result.filled_price == Decimal("150.00")
    assert result.slippage == Decimal("0")
    assert result.commission == Decimal("0")
    assert result.raw["id"] == order.id and result.raw["order_class"] == "bracket"
    assert fake_alpaca.position_quantity("AAPL") == 10
    assert [(leg.type, leg.status) for leg in order.legs] == [("limit", "new"), ("stop", "held")]


def test_it_takes_target_2_when_the_bracket_names_no_take_profit(executor, fake_alpaca):
    executor.submit_bracket(bracket(take_profit=None))
    assert posts(fake_alpaca)[0]["take_profit"] == {"limit_price": 158.0}


def test_it_rounds_prices_to_the_cent_alpaca_accepts(executor, fake_alpaca):
    result = executor.submit_bracket(
        bracket(stop_loss=Decimal("147.9962"), take_profit=Decimal("154.2549"))
    )
    assert result.status == "filled"
    sent = posts(fake_alpaca)[0]
    assert sent["stop_loss"] == {"stop_price": 148.0}
    assert sent["take_profit"] == {"limit_price": 154.25}


def test_it_sends_a_limit_entry_and_reports_it_working_when_unfilled(fake_alpaca, sleeps):
    fake_alpaca.set_price("AAPL", "150.00")
    executor = _executor(fake_alpaca, sleeps, fill_timeout=1, poll_interval=0.25)
    result = executor.submit_bracket(
        bracket(order_type="limit", limit_price=Decimal("149.50"), time_in_force="gtc")
    )
    sent = posts(fake_alpaca)[0]
    assert (sent["type"], sent["limit_price"], sent["time_in_force"]) == ("limit", 149.5, "gtc")
    assert result.status == "accepted"
    assert result.filled_quantity == 0 and result.filled_price is None
    assert "still working at Alpaca" in result.message
    assert sleeps == [0.25] * 4  # polled for fill_timeout, then reported what it saw

    fake_alpaca.set_price("AAPL", "149.40")
    assert fake_alpaca.tick() == [fake_alpaca.order_for("tc-exec-1-trade-t1")]
    found = executor.find_order("tc-exec-1-trade-t1")
    assert (found.status, found.filled_quantity, found.filled_price) == (
        "filled",
        10,
        Decimal("149.50"),
    )


def test_it_waits_for_the_fill(executor, fake_alpaca, sleeps):
    fake_alpaca.fill_after_polls = 3
    result = executor.submit_bracket(bracket())
    assert result.status == "filled" and result.filled_quantity == 10
    assert len(fake_alpaca.requests_to(LOOKUPS)) == 1 + 3  # the pre-send look-up, three polls
    assert sleeps == [0.5, 0.5, 0.5]


def test_it_reports_a_partial_fill_that_stops_growing(executor, fake_alpaca):
    fake_alpaca.partial_fill_ratio = Decimal("0.4")
    result = executor.submit_bracket(bracket())
    assert result.status == "partially_filled"
    assert result.filled_quantity == 4
    assert result.filled_price == Decimal("150.00")
    assert "Partially filled" in result.message
    assert fake_alpaca.position_quantity("AAPL") == 4


def test_it_reports_a_rejection_after_acceptance(executor, fake_alpaca):
    fake_alpaca.reject_next_order()
    result = executor.submit_bracket(bracket())
    assert result.status == "rejected"
    assert result.filled_quantity == 0
    assert result.message == "Alpaca rejected the order."
    assert fake_alpaca.position_quantity("AAPL") == 0


@pytest.mark.parametrize(
    ("side", "price", "stop", "target", "slippage"),
    [
        ("buy", "150.30", "148.00", "154.25", "0.30"),  # paid more
        ("buy", "149.90", "148.00", "154.25", "-0.10"),  # paid less: negative is favourable
        ("sell", "149.80", "152.00", "146.00", "0.20"),  # received less on a short
    ],
)
def test_it_measures_slippage_per_share_against_the_planned_entry(
    executor, fake_alpaca, side, price, stop, target, slippage
):
    fake_alpaca.set_price("AAPL", price)
    result = executor.submit_bracket(
        bracket(side=side, stop_loss=Decimal(stop), take_profit=Decimal(target))
    )
    assert result.filled_price == Decimal(price)
    assert result.slippage == Decimal(slippage)


# --- idempotency and retries ----------------------------------------------------------------------


def test_a_second_submit_with_the_same_id_sends_nothing(executor, fake_alpaca):
    first = executor.submit_bracket(bracket())
    again = executor.submit_bracket(bracket())
    assert len(posts(fake_alpaca)) == 1
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1
    assert (again.broker_order_id, again.status, again.filled_quantity, again.filled_price) == (
        first.broker_order_id,
        "filled",
        10,
        Decimal("150.00"),
    )
    assert fake_alpaca.position_quantity("AAPL") == 10


def test_a_lost_response_is_retried_without_a_duplicate(executor, fake_alpaca, sleeps):
    # Alpaca took the order, but the answer that reached us was a 500.
    fake_alpaca.fail_after_next(status=500, path=ORDERS, method="POST")
    result = executor.submit_bracket(bracket())
    assert result.status == "filled"
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1
    assert len(posts(fake_alpaca)) == 1  # the look-up before the resend found it
    assert result.broker_order_id == fake_alpaca.order_for("tc-exec-1-trade-t1").id
    assert sleeps[0] == 0.5
    assert fake_alpaca.position_quantity("AAPL") == 10


def test_a_timed_out_submit_is_retried_without_a_duplicate(fake_alpaca, sleeps):
    fake_alpaca.set_price("AAPL", "150.00")
    executor = _executor(fake_alpaca, sleeps, request_timeout=0.3)
    fake_alpaca.hold_response_next(seconds=1.5, path=ORDERS, method="POST")
    result = executor.submit_bracket(bracket())
    assert result.status == "filled"
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1
    assert len(posts(fake_alpaca)) == 1
    assert fake_alpaca.position_quantity("AAPL") == 10


def test_alpacas_duplicate_id_refusal_is_the_last_guard(executor, fake_alpaca):
    # The order is at Alpaca but the look-up missed it (an eventually consistent read):
    # the resend is refused as a duplicate, and the executor reports the order Alpaca holds.
    fake_alpaca.place(
        {
            "symbol": "AAPL",
            "qty": 10,
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "client_order_id": "tc-exec-1-trade-t1",
        }
    )
    fake_alpaca.fail_next(
        status=404, body={"code": 40410000, "message": "order not found"}, path=LOOKUPS
    )
    result = executor.submit_bracket(bracket())
    assert len(posts(fake_alpaca)) == 1
    assert fake_alpaca.requests_to(ORDERS, "POST")[0].status == 422
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1
    assert result.status == "filled" and result.filled_quantity == 10


def test_it_retries_a_rate_limit_after_the_wait_alpaca_asks_for(executor, fake_alpaca, sleeps):
    fake_alpaca.fail_next(
        status=429,
        body={"message": "too many requests."},
        headers={"Retry-After": "2"},
        path=ORDERS,
        method="POST",
    )
    result = executor.submit_bracket(bracket())
    assert result.status == "filled"
    assert sleeps[0] == 2.0
    assert [r.status for r in fake_alpaca.requests_to(ORDERS, "POST")] == [429, 200]
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1
    # Looked up before the first send and again before the resend.
    methods = [(r.method, r.path) for r in fake_alpaca.requests][:4]
    assert methods == [
        ("GET", "/v2/orders:by_client_order_id"),
        ("POST", "/v2/orders"),
        ("GET", "/v2/orders:by_client_order_id"),
        ("POST", "/v2/orders"),
    ]


def test_it_honours_alpacas_rate_limit_reset_header(executor, fake_alpaca, sleeps):
    reset = int(time.time()) + 30
    fake_alpaca.fail_next(
        status=429, headers={"X-RateLimit-Reset": str(reset)}, path=ORDERS, method="POST"
    )
    executor.submit_bracket(bracket())
    assert 25 < sleeps[0] <= 30
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1


def test_it_retries_server_errors_with_exponential_backoff(executor, fake_alpaca, sleeps):
    fake_alpaca.fail_next(2, status=503, path=ORDERS, method="POST")
    result = executor.submit_bracket(bracket())
    assert result.status == "filled"
    assert sleeps[:2] == [0.5, 1.0]
    assert [r.status for r in fake_alpaca.requests_to(ORDERS, "POST")] == [503, 503, 200]
    assert len(fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1")) == 1


def test_it_gives_up_after_max_attempts_with_a_retryable_error(executor, fake_alpaca, sleeps):
    fake_alpaca.fail_next(4, status=502, path=ORDERS, method="POST")
    with pytest.raises(ExecutionError, match=r"did not confirm the order after 4 attempts") as info:
        executor.submit_bracket(bracket())
    assert info.value.retryable
    assert "HTTP 502" in str(info.value)
    assert len(posts(fake_alpaca)) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1") == []


def test_a_refusal_for_buying_power_is_final_and_explained(executor, fake_alpaca, sleeps):
    with pytest.raises(
        ExecutionError, match=r"^Alpaca refused the order \(403\): insufficient buying power$"
    ) as info:
        executor.submit_bracket(bracket(quantity=1_000))
    assert not info.value.retryable
    assert len(posts(fake_alpaca)) == 1
    assert sleeps == []
    assert fake_alpaca.orders_with_client_id("tc-exec-1-trade-t1") == []


def test_an_invalid_bracket_is_refused_with_alpacas_reason(executor, fake_alpaca, sleeps):
    # A stop above the market on a long entry: Alpaca checks the legs against the price.
    with pytest.raises(
        ExecutionError,
        match=r"^Alpaca refused the order \(422\): stop_loss.stop_price must be <= 149.99$",
    ):
        executor.submit_bracket(bracket(stop_loss=Decimal("151.00")))
    assert len(posts(fake_alpaca)) == 1
    assert sleeps == []


def test_a_scripted_422_is_not_retried(executor, fake_alpaca, sleeps):
    fake_alpaca.fail_next(
        status=422,
        body={"code": 40010001, "message": "asset AAPL is not tradable"},
        path=ORDERS,
        method="POST",
    )
    with pytest.raises(ExecutionError, match=r"\(422\): asset AAPL is not tradable") as info:
        executor.submit_bracket(bracket())
    assert not info.value.retryable
    assert len(posts(fake_alpaca)) == 1
    assert sleeps == []


def test_rejected_keys_are_named_as_the_cause_and_nothing_is_sent(fake_alpaca, sleeps):
    executor = _executor(fake_alpaca, sleeps, api_secret="wrong-secret")
    with pytest.raises(ExecutionError, match=r"Alpaca rejected the API keys \(HTTP 403: forbidden"):
        executor.submit_bracket(bracket())
    with pytest.raises(ExecutionError, match="rejected the API keys"):
        executor.account()
    assert posts(fake_alpaca) == []
    assert sleeps == []


def test_an_unreachable_broker_is_a_retryable_error(sleeps):
    executor = AlpacaExecutor(
        api_key="k",
        api_secret="s",
        paper=False,
        url_override="http://127.0.0.1:9",
        sleep=sleeps.append,
    )
    assert executor.mode == "LIVE"
    with pytest.raises(ExecutionError, match="connection failed") as info:
        executor.submit_bracket(bracket())
    assert info.value.retryable
    assert len(sleeps) == 3


def test_find_order_reports_what_alpaca_holds(executor, fake_alpaca):
    assert executor.find_order("never-sent") is None
    executor.submit_bracket(bracket())
    found = executor.find_order("tc-exec-1-trade-t1")
    assert (found.status, found.filled_quantity, found.filled_price) == (
        "filled",
        10,
        Decimal("150.00"),
    )
    assert found.broker_order_id == fake_alpaca.order_for("tc-exec-1-trade-t1").id


# --- account and positions --------------------------------------------------------------------


def test_it_reads_the_account(executor, fake_alpaca):
    account = executor.account()
    assert (account.equity, account.cash, account.buying_power, account.currency) == (
        Decimal("100000.00"),
        Decimal("100000.00"),
        Decimal("100000.00"),
        "USD",
    )
    executor.submit_bracket(bracket())
    fake_alpaca.set_price("AAPL", "152.00")
    account = executor.account()
    assert account.cash == Decimal("98500.00")
    assert account.equity == Decimal("100020.00")


def test_it_reads_long_and_short_positions(executor, fake_alpaca):
    assert executor.positions() == []
    assert executor.position("AAPL") is None
    fake_alpaca.open_position("AAPL", 10, "150.00")
    fake_alpaca.open_position("TSLA", -5, "210.00")
    by_symbol = {p.symbol: p for p in executor.positions()}
    aapl, tsla = by_symbol["AAPL"], by_symbol["TSLA"]
    assert (aapl.side, aapl.quantity, aapl.average_price) == ("long", 10, Decimal("150.00"))
    assert (aapl.market_value, aapl.unrealized_pnl) == (Decimal("1500.00"), Decimal("0.00"))
    # Alpaca sends a short as qty "-5"; ours is a size with a side.
    assert (tsla.side, tsla.quantity, tsla.average_price) == ("short", 5, Decimal("210.00"))
    assert (tsla.market_value, tsla.unrealized_pnl) == (Decimal("1000.00"), Decimal("50.00"))
    assert executor.position("TSLA") == tsla


# --- exits ----------------------------------------------------------------------------------------


def test_close_position_cancels_the_legs_and_closes_at_market(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    entry = fake_alpaca.order_for("tc-exec-1-trade-t1")
    fake_alpaca.set_price("AAPL", "151.00")

    result = executor.close_position(
        "AAPL", quantity=None, client_order_id="tc-close-1", reference_price=Decimal("151.10")
    )

    assert [leg.status for leg in entry.legs] == ["canceled", "canceled"]
    cancelled = {
        r.path.rsplit("/", 1)[1] for r in fake_alpaca.requests_to(r"^/v2/orders/", "DELETE")
    }
    assert cancelled == {leg.id for leg in entry.legs}
    close = posts(fake_alpaca)[-1]
    assert (close["symbol"], close["qty"], close["side"], close["type"]) == (
        "AAPL",
        10,
        "sell",
        "market",
    )
    assert close["client_order_id"] == "tc-close-1"
    assert (result.status, result.filled_quantity, result.filled_price) == (
        "filled",
        10,
        Decimal("151.00"),
    )
    assert result.slippage == Decimal("0.10")  # sold 0.10 below the reference
    assert fake_alpaca.position_quantity("AAPL") == 0
    assert executor.position("AAPL") is None


def test_close_position_replaces_an_earlier_close_still_queued(fake_alpaca, sleeps):
    fake_alpaca.set_price("AAPL", "150.00")
    executor = _executor(fake_alpaca, sleeps, fill_timeout=1, poll_interval=0.5)
    executor.submit_bracket(bracket())
    fake_alpaca.fill_after_polls = 100  # e.g. the market is shut: the close waits for the open
    queued = executor.close_position("AAPL", quantity=None, client_order_id="tc-close-1")
    assert queued.status == "accepted" and queued.filled_quantity == 0

    fake_alpaca.fill_after_polls = 0
    result = executor.close_position("AAPL", quantity=None, client_order_id="tc-close-2")

    # The first close held the shares; it is cancelled rather than refused by Alpaca.
    assert fake_alpaca.order_for("tc-close-1").status == "canceled"
    assert (result.status, result.filled_quantity) == ("filled", 10)
    assert fake_alpaca.position_quantity("AAPL") == 0


def test_close_position_is_idempotent(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    first = executor.close_position("AAPL", quantity=None, client_order_id="tc-close-1")
    again = executor.close_position("AAPL", quantity=None, client_order_id="tc-close-1")
    assert again.broker_order_id == first.broker_order_id and again.status == "filled"
    assert len(fake_alpaca.orders_with_client_id("tc-close-1")) == 1
    assert len(posts(fake_alpaca)) == 2  # the bracket and one close


def test_a_partial_close_keeps_a_stop_on_the_rest(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    result = executor.close_position("AAPL", quantity=4, client_order_id="tc-close-1")
    assert (result.status, result.filled_quantity) == ("filled", 4)
    assert fake_alpaca.position_quantity("AAPL") == 6
    stop = fake_alpaca.order_for("tc-close-1-stop")
    assert (stop.type, stop.side, stop.qty, stop.stop_price) == (
        "stop",
        "sell",
        6,
        Decimal("148.0"),
    )
    assert "keep a stop at 148.00" in result.message
    # The new stop is found and moved like a bracket leg, and fills like one.
    executor.move_stop("AAPL", Decimal("150.00"))
    moved = fake_alpaca.order_for("tc-close-1-stop")
    assert moved.status == "replaced"
    fake_alpaca.set_price("AAPL", "149.00")
    fake_alpaca.tick()
    (fill,) = executor.exit_fills("AAPL")
    assert (fill.filled_quantity, fill.filled_price, fill.raw["type"]) == (
        6,
        Decimal("149.00"),
        "stop",
    )


def test_close_position_never_sells_more_than_is_held(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    result = executor.close_position("AAPL", quantity=25, client_order_id="tc-close-1")
    assert result.filled_quantity == 10
    assert posts(fake_alpaca)[-1]["qty"] == 10
    assert fake_alpaca.position_quantity("AAPL") == 0  # flat, not short 15


def test_close_position_covers_a_short(executor, fake_alpaca):
    executor.submit_bracket(
        bracket(side="sell", stop_loss=Decimal("152.00"), take_profit=Decimal("146.00"))
    )
    assert fake_alpaca.position_quantity("AAPL") == -10
    result = executor.close_position("AAPL", quantity=None, client_order_id="tc-close-1")
    assert posts(fake_alpaca)[-1]["side"] == "buy"
    assert result.filled_quantity == 10
    assert fake_alpaca.position_quantity("AAPL") == 0


def test_close_position_without_a_position_is_an_error(executor, fake_alpaca):
    with pytest.raises(ExecutionError, match="no open Alpaca position in AAPL"):
        executor.close_position("AAPL", quantity=None, client_order_id="tc-close-1")
    assert posts(fake_alpaca) == []


def test_move_stop_replaces_the_stop_leg(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    entry = fake_alpaca.order_for("tc-exec-1-trade-t1")
    old_stop = entry.stop_loss

    executor.move_stop("AAPL", Decimal("150.00"))

    (patch,) = fake_alpaca.requests_to(r"^/v2/orders/", "PATCH")
    assert patch.path == f"/v2/orders/{old_stop.id}"
    assert patch.json == {"stop_price": 150.0}
    assert old_stop.status == "replaced"
    assert entry.stop_loss.stop_price == Decimal("150.0")
    assert entry.stop_loss.replaces == old_stop.id
    assert entry.take_profit.limit_price == Decimal("154.25")  # untouched
    # Already there: nothing more is sent.
    executor.move_stop("AAPL", Decimal("150.00"))
    assert len(fake_alpaca.requests_to(r"^/v2/orders/", "PATCH")) == 1
    # The moved stop protects: a drop through it closes the position at the broker.
    fake_alpaca.set_price("AAPL", "149.95")
    fake_alpaca.tick()
    assert fake_alpaca.position_quantity("AAPL") == 0


def test_move_stop_moves_every_bracket_of_the_symbol(executor, fake_alpaca):
    executor.submit_bracket(bracket("tc-1-t1", quantity=5, take_profit=Decimal("154.25")))
    executor.submit_bracket(bracket("tc-1-t2", quantity=5, take_profit=Decimal("158.00")))
    executor.move_stop("AAPL", Decimal("149.00"))
    stops = [fake_alpaca.order_for(cid).stop_loss.stop_price for cid in ("tc-1-t1", "tc-1-t2")]
    assert stops == [Decimal("149.0"), Decimal("149.0")]


def test_move_stop_survives_a_lost_reply(executor, fake_alpaca, sleeps):
    executor.submit_bracket(bracket())
    fake_alpaca.fail_after_next(status=503, path=r"^/v2/orders/", method="PATCH")
    executor.move_stop("AAPL", Decimal("150.00"))
    # The replace reached Alpaca; the retry listed the legs again and found it done.
    assert len(fake_alpaca.requests_to(r"^/v2/orders/", "PATCH")) == 1
    assert fake_alpaca.order_for("tc-exec-1-trade-t1").stop_loss.stop_price == Decimal("150.0")
    assert sleeps == [0.5]


def test_move_stop_without_a_position_does_nothing(executor, fake_alpaca):
    executor.move_stop("AAPL", Decimal("150.00"))
    assert fake_alpaca.requests_to(r"^/v2/orders/", "PATCH") == []


def test_exit_fills_reports_a_take_profit_the_broker_filled(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    assert executor.exit_fills("AAPL") == []
    entry = fake_alpaca.order_for("tc-exec-1-trade-t1")

    fake_alpaca.set_price("AAPL", "155.00")
    assert fake_alpaca.tick() == [entry.take_profit]

    (fill,) = executor.exit_fills("AAPL")
    assert fill.status == "filled"
    assert fill.broker_order_id == entry.take_profit.id
    assert fill.client_order_id == entry.take_profit.client_order_id
    assert (fill.filled_quantity, fill.filled_price) == (10, Decimal("154.25"))
    assert fill.raw["type"] == "limit" and fill.raw["side"] == "sell"
    assert fill.raw["parent_client_order_id"] == "tc-exec-1-trade-t1"
    assert fill.message == "Take-profit leg filled at Alpaca."
    assert entry.stop_loss.status == "canceled"  # its OCO sibling
    assert executor.position("AAPL") is None
    assert executor.account().cash == Decimal("100042.50")


def test_exit_fills_reports_a_stop_that_gapped(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    fake_alpaca.set_price("AAPL", "147.50")  # through the 148.00 stop
    fake_alpaca.tick()
    (fill,) = executor.exit_fills("AAPL")
    assert (fill.raw["type"], fill.filled_price, fill.filled_quantity) == (
        "stop",
        Decimal("147.50"),
        10,
    )
    assert fill.message == "Stop-loss leg filled at Alpaca."


def test_exit_fills_lists_both_target_legs_in_fill_order(executor, fake_alpaca):
    executor.submit_bracket(bracket("tc-1-t1", quantity=5, take_profit=Decimal("154.25")))
    executor.submit_bracket(bracket("tc-1-t2", quantity=5, take_profit=Decimal("158.00")))
    fake_alpaca.set_price("AAPL", "155.00")
    fake_alpaca.tick()
    (first,) = executor.exit_fills("AAPL")
    assert first.raw["parent_client_order_id"] == "tc-1-t1"
    fake_alpaca.set_price("AAPL", "158.50")
    fake_alpaca.tick()
    fills = executor.exit_fills("AAPL")
    assert [f.raw["parent_client_order_id"] for f in fills] == ["tc-1-t1", "tc-1-t2"]
    assert [f.filled_price for f in fills] == [Decimal("154.25"), Decimal("158.00")]
    assert fake_alpaca.position_quantity("AAPL") == 0


# --- the fake behaves like Alpaca -----------------------------------------------------------------


def test_the_fake_refuses_to_sell_shares_held_by_exit_legs(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    response = fake_alpaca.place(
        {"symbol": "AAPL", "qty": 10, "side": "sell", "type": "market", "time_in_force": "day"}
    )
    assert response.status == 403
    assert (
        response.body["message"]
        == "insufficient qty available for order (requested: 10, available: 0)"
    )


def test_the_fake_closes_positions_through_the_positions_endpoint(fake_alpaca):
    fake_alpaca.set_price("AAPL", "150.00")
    fake_alpaca.open_position("AAPL", 10, "150.00")
    client = TradingClient("test-key", "test-secret", url_override=fake_alpaca.url, raw_data=True)
    order = client.close_position("AAPL", ClosePositionRequest(qty="4"))
    assert (order["side"], order["qty"], order["status"]) == ("sell", "4", "filled")
    assert fake_alpaca.position_quantity("AAPL") == 6


def test_the_fake_answers_what_alpaca_py_models_parse(executor, fake_alpaca):
    executor.submit_bracket(bracket())
    client = TradingClient("test-key", "test-secret", url_override=fake_alpaca.url)
    assert client.get_account().account_number == fake_alpaca.account_number
    (position,) = client.get_all_positions()
    assert position.symbol == "AAPL" and position.qty == "10"
    (order,) = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    assert len(order.legs) == 2
    # Like Alpaca, a filled bracket is not "open", and its held stop leg is listed as closed.
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [(o.type.value, o.status.value) for o in open_orders] == [("limit", "new")]
