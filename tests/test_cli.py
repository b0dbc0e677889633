"""The ``liqwidget`` command line."""

from __future__ import annotations

import re

import pytest

from liqwidget.cli import main


def test_clusters_on_the_sample_prints_both_sides(capsys):
    assert main(["clusters", "--top", "3"]) == 0
    out = capsys.readouterr().out
    last = float(re.search(r"last price ([\d,.]+)", out).group(1).replace(",", ""))
    shorts = out.split("Largest short clusters")[1].split("Largest long clusters")[0]
    longs = out.split("Largest long clusters")[1]
    short_prices = [
        float(x.replace(",", "")) for x in re.findall(r"^\s+([\d,]+)\s+\+", shorts, re.M)
    ]
    long_prices = [float(x.replace(",", "")) for x in re.findall(r"^\s+([\d,]+)\s+-", longs, re.M)]
    assert len(short_prices) == 3 and len(long_prices) == 3
    assert all(p > last for p in short_prices) and all(p < last for p in long_prices)
    assert "not a list of orders" in out


def test_unknown_command_and_bad_source_fail_clearly(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit):
        main(["clusters", "--source", "nowhere"])
    assert "invalid choice" in capsys.readouterr().err
