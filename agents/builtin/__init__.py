"""The built-in agents; importing this package registers them all."""

from agents.builtin import (  # noqa: F401
    bias,
    market_data,
    news_trigger,
    pipeline_manager,
    price_trigger,
    reporting,
    risk_manager,
    stock_picker,
    strategy,
    technical_trigger,
    time_trigger,
    trade_manager,
)
