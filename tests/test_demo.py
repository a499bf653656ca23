import json

import pytest

from skgmje.__main__ import main


def test_demo_writes_table_json_and_figure_and_selects_k_near_the_oracle(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Held-out conditional NLL" in printed and "GMJE K by CV" in printed
    results = json.loads((tmp_path / "demo.json").read_text())
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    for dataset in ["A (separated)", "B (intersecting)"]:
        rows = results[dataset]
        selected = next(row for label, row in rows.items() if label.endswith("(CV)"))
        assert selected["n_components"] >= 3
        assert selected["gap_to_oracle"] < 0.10
        assert rows["GJE"]["nll"] > selected["nll"] + 0.5
        assert rows["MLP (MSE)"]["nll"] == pytest.approx(rows["GJE"]["nll"], abs=0.05)
        assert rows["GMJEMDN"]["gap_to_oracle"] < 0.10
        assert rows["GMJEGNG"]["gap_to_oracle"] < 0.10
        assert rows["BayesianGMJE"]["nll"] < selected["nll"] + 0.10
    # Where three branches meet, the highest-density region keeps them apart and is shorter.
    summary = results["whole_distribution"]
    assert summary["hdr_intervals"] == 3
    assert summary["hdr_length"] < 0.6 * summary["interval_length"]
    assert "highest-density region" in printed
