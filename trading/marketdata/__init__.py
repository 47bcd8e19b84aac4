"""Market data: one provider interface (bars, batch quotes, universe, news) and its providers."""
