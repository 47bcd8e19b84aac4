"""The fixed list of US tickers the synthetic provider offers, with company names for headlines."""

from __future__ import annotations

import re

# Ticker -> company name. Order is the order `universe()` returns.
COMPANIES: dict[str, str] = {
    "AAPL": "Apple",
    "MSFT": "Microsoft",
    "NVDA": "Nvidia",
    "AMZN": "Amazon",
    "GOOGL": "Alphabet",
    "META": "Meta Platforms",
    "TSLA": "Tesla",
    "AMD": "Advanced Micro Devices",
    "AVGO": "Broadcom",
    "NFLX": "Netflix",
    "ORCL": "Oracle",
    "CRM": "Salesforce",
    "ADBE": "Adobe",
    "INTC": "Intel",
    "QCOM": "Qualcomm",
    "CSCO": "Cisco Systems",
    "IBM": "IBM",
    "TXN": "Texas Instruments",
    "MU": "Micron Technology",
    "PLTR": "Palantir",
    "SHOP": "Shopify",
    "UBER": "Uber",
    "PYPL": "PayPal",
    "JPM": "JPMorgan Chase",
    "BAC": "Bank of America",
    "WFC": "Wells Fargo",
    "GS": "Goldman Sachs",
    "MS": "Morgan Stanley",
    "C": "Citigroup",
    "AXP": "American Express",
    "V": "Visa",
    "MA": "Mastercard",
    "UNH": "UnitedHealth",
    "JNJ": "Johnson & Johnson",
    "PFE": "Pfizer",
    "MRK": "Merck",
    "ABBV": "AbbVie",
    "LLY": "Eli Lilly",
    "TMO": "Thermo Fisher",
    "XOM": "Exxon Mobil",
    "CVX": "Chevron",
    "COP": "ConocoPhillips",
    "WMT": "Walmart",
    "COST": "Costco",
    "HD": "Home Depot",
    "LOW": "Lowe's",
    "TGT": "Target",
    "MCD": "McDonald's",
    "SBUX": "Starbucks",
    "NKE": "Nike",
    "KO": "Coca-Cola",
    "PEP": "PepsiCo",
    "PG": "Procter & Gamble",
    "DIS": "Disney",
    "CMCSA": "Comcast",
    "T": "AT&T",
    "VZ": "Verizon",
    "BA": "Boeing",
    "CAT": "Caterpillar",
    "GE": "GE Aerospace",
    "HON": "Honeywell",
    "UPS": "UPS",
    "SPY": "SPDR S&P 500 ETF",
    "QQQ": "Invesco QQQ Trust",
    "IWM": "iShares Russell 2000 ETF",
    "DIA": "SPDR Dow Jones ETF",
}

UNIVERSE: tuple[str, ...] = tuple(COMPANIES)
# Index funds move less than single stocks; the synthetic provider gives them lower volatility.
INDEX_FUNDS: frozenset[str] = frozenset({"SPY", "QQQ", "IWM", "DIA"})

_TICKER = re.compile(r"[A-Z]{1,5}")


def is_plain_ticker(symbol: object) -> bool:
    """One to five upper-case ASCII letters: the only symbols the synthetic sources accept."""
    return isinstance(symbol, str) and _TICKER.fullmatch(symbol) is not None


def company_name(symbol: str) -> str:
    return COMPANIES.get(symbol, symbol)
