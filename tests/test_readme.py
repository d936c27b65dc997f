"""README opens with the two commands CI and users rely on."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_readme_opens_with_run_and_test_commands_and_ci_runs_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)
    run, test = blocks[0].strip(), blocks[1].strip()
    assert readme.index(run) < readme.index("---"), "the commands come first"
    config = re.search(r"papertrade backtest (\S+)", run)
    assert config is not None
    assert (ROOT / config.group(1)).is_file()
    assert "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text()
