"""papertrade: YAML config -> backtest or live paper trading -> reviewable run folders."""

__version__ = "0.1.0"
