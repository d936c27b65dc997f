"""Fitting a table to a width (``runs list``): drop the least useful columns, wrap whole cells."""

from __future__ import annotations

from papertrade.report.columns import GAP, Column, fit, layout, wrap


def test_wrap_breaks_at_spaces_when_that_is_enough_else_at_dashes() -> None:
    assert wrap("2020-01-01 → 2022-12-31", 12) == ["2020-01-01 →", "2022-12-31"]
    assert wrap("20261130T044836Z-rut-breakout-rotation-backtest-7f89cf9f", 30) == [
        "20261130T044836Z-rut-breakout-", "rotation-backtest-7f89cf9f"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]  # no break point: cut hard
    assert wrap("short", 10) == ["short"]
    for width in range(3, 40):
        text = "a run's reason: manifest.json is not valid JSON (line 1, column 25)"
        lines = wrap(text, width)
        assert all(len(line) <= width for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost


def test_fit_drops_the_least_useful_columns_first() -> None:
    columns = [Column("id", 100, wrap_to=8), Column("note", 1, wrap_to=6),
               Column("mode", 5), Column("value", 50, right=True)]
    rows = [["a-very-long-identifier", "some note here", "backtest", "12.5 %"]]
    kept, widths = fit(columns, rows, None)
    assert kept == [0, 1, 2, 3] and widths == [22, 14, 8, 6]
    kept, widths = fit(columns, rows, 30)
    assert kept == [0, 2, 3] and sum(widths) + GAP * (len(kept) - 1) <= 30  # note went first
    kept, widths = fit(columns, rows, 24)
    assert kept == [0, 3] and sum(widths) + GAP * (len(kept) - 1) <= 24  # then mode
    kept, widths, cells = layout(columns, rows, 20)
    assert kept == [0, 3]
    assert all(len(line) <= w for row in cells for lines, w in zip(row, widths, strict=True)
               for line in lines)
    assert "".join(cells[1][0]) == "a-very-long-identifier"
