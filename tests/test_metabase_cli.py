"""The ``autometa metabase`` command group: build and info."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autometa.cli import main


def _corpus(root):
    root.mkdir()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["y"] = np.where(X[:, 0] + rng.normal(scale=0.3, size=90) > 0, "pos", "neg")
    df.to_csv(root / "cls.csv", index=False)
    df.assign(y=X @ [1.0, 2.0, -1.0] + rng.normal(size=90)).to_csv(root / "reg.csv", index=False)
    return root


def _run(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return exit_.value.code, capsys.readouterr()


def test_build_then_info_json(tmp_path, capsys):
    corpus = _corpus(tmp_path / "corpus")
    out = tmp_path / "mb"
    main(["metabase", "build", "--source", f"csv:{corpus}", "--out", str(out), "--configs-per-algorithm", "1",
          "--algorithms", "linear", "--max-rows", "200"])
    printed = capsys.readouterr().out
    assert "datasets: 2 done" in printed and "runs: 8 ok" in printed
    main(["metabase", "info", "--metabase", str(out), "--json"])
    info = json.loads(capsys.readouterr().out)
    for key in ("n_datasets", "configs_per_dataset", "n_runs", "n_configs", "by_task", "manifest"):
        assert key in info
    assert (info["n_datasets"], info["n_runs"], info["configs_per_dataset"]) == (2, 24, 4.0)
    assert set(info["by_task"]) == {"binary", "regression"}
    for task in info["by_task"].values():
        assert {"n_datasets", "configs_per_dataset", "n_runs"} <= set(task)
        assert task["n_runs"] == 12  # linear: default + 2 known-good + 1 Sobol, 3 folds
    assert info["manifest"]["settings"]["cv"] == 3
    assert info["manifest"]["sources"] == [f"csv:{corpus}"]
    main(["metabase", "info", "--metabase", str(out)])
    text = capsys.readouterr().out
    assert "regression" in text and "build command: autometa metabase build" in text


def test_info_honours_the_environment_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUTOMETA_METABASE", str(tmp_path / "nowhere"))
    code, cap = _run(["metabase", "info", "--json"], capsys)
    assert code == 2
    assert "no metabase at" in cap.err and "nowhere" in cap.err
    assert cap.err.count("\n") == 1


def test_build_errors_are_one_line(tmp_path, capsys):
    code, cap = _run(["metabase", "build", "--source", "bogus", "--out", str(tmp_path / "mb")], capsys)
    assert code == 2 and "unknown source 'bogus'" in cap.err and cap.err.count("\n") == 1
    code, cap = _run(["metabase", "build", "--source", "sklearn", "--out", str(tmp_path / "mb"), "--cv", "1"],
                     capsys)
    assert code == 2 and "--cv must be at least 2" in cap.err


def test_remove_deletes_a_dataset_and_its_runs_and_updates_the_manifest(tmp_path, capsys):
    corpus = _corpus(tmp_path / "corpus")
    out = tmp_path / "mb"
    main(["metabase", "build", "--source", f"csv:{corpus}", "--out", str(out), "--configs-per-algorithm", "1",
          "--algorithms", "linear", "--max-rows", "200"])
    capsys.readouterr()
    from autometa.metabase import open_metabase

    before = open_metabase(out)
    ids = dict(zip(before.datasets()["name"], before.datasets()["dataset_id"]))
    cls_runs = before.runs()[lambda r: r["dataset_id"] == ids["cls"]].drop(columns=["created"], errors="ignore")
    main(["metabase", "remove", ids["reg"], "--metabase", str(out)])
    assert "removed 1 dataset(s)" in capsys.readouterr().out
    after = open_metabase(out)
    assert list(after.datasets()["name"]) == ["cls"]
    runs = after.runs()
    assert set(runs["dataset_id"]) == {ids["cls"]} and len(runs) == 12
    kept = runs.drop(columns=["created"], errors="ignore").sort_values(["config_id", "fold"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, cls_runs.sort_values(["config_id", "fold"]).reset_index(drop=True),
                                  check_dtype=False)
    manifest = after.manifest()
    assert manifest["counts"]["n_datasets"] == 1 and manifest["counts"]["n_runs"] == 12
    assert set(manifest["counts"]["by_task"]) == {"binary"}
    # an unknown id is a one-line error and changes nothing
    code, cap = _run(["metabase", "remove", "nope-123", "--metabase", str(out)], capsys)
    assert code == 2 and "no dataset nope-123" in cap.err and cap.err.count("\n") == 1
    assert len(open_metabase(out).runs()) == 12
    # a later build of the same corpus rebuilds the removed dataset
    main(["metabase", "build", "--source", f"csv:{corpus}", "--out", str(out), "--configs-per-algorithm", "1",
          "--algorithms", "linear", "--max-rows", "200"])
    assert sorted(open_metabase(out).datasets()["name"]) == ["cls", "reg"]
