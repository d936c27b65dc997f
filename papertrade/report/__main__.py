"""``python -m papertrade.report list|show|compare|report``: the same as ``papertrade runs``."""

from papertrade.report.cli import main

main()
