"""Research beside the report: parameter sweeps and walk-forward (``papertrade sweep``).

- :mod:`.grid`: ``--grid`` parsing, ranges, sampling, validation through ``--set``'s path;
- :mod:`.engine`: what runs one config (the backtrader backtest; the fast simulator);
- :mod:`.execute`: Dask execution (local cluster or ``--scheduler``), chunks, progress;
- :mod:`.results`: the streamed ``results.csv`` and returns store;
- :mod:`.sweep`: the sweep folder from start to finish, resume;
- :mod:`.walkforward`, :mod:`.wf_run`: folds and the out-of-sample stitch;
- :mod:`.summary`: best row, ``metrics.json``, ``overfitting.json``.
"""
