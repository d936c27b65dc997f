"""Research beside the report: statistics over many runs (sweeps, walk-forward, overfitting)."""
