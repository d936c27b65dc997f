"""Research tools beside the run path: look-ahead checks, sweeps, statistics, studies."""
