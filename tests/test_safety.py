"""Secrets in storage URLs, output paths that would destroy inputs, and untrusted model files."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

import autometa.cli as cli
import autometa.search as search
from autometa.errors import ConfigError, DataError
from autometa.model import FORMAT_VERSION, MODEL_FORMAT, FittedModel
from autometa.paths import atomic_write, check_output_path, storage_file
from autometa.redact import mask_url
from test_cli_fit import run  # the CLI in-process: (exit code, stdout, stderr)

PASSWORD = "S3cretPW"
PG_URL = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/db"  # port 1: the connection is refused at once




def one_line_error(code, out, err, *fragments, exit_code=2):
    assert code == exit_code, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: " if exit_code == 2 else "internal error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], err
    return lines[0]


def _table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["label"] = np.where(df["a"] + rng.normal(scale=0.3, size=n) > 0, "yes", "no")
    return df


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """A small model written by `autometa fit` (shared, read-only: tests copy it)."""
    root = tmp_path_factory.mktemp("safety_model")
    _table().to_csv(root / "train.csv", index=False)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        cli.main(["fit", "train.csv", "--trials", "1", "--algorithms", "linear", "--cv", "2",
                  "--no-warm-start", "--output", "model.joblib", "--json"])
    except SystemExit as exc:
        assert not exc.code
    finally:
        os.chdir(cwd)
    return root / "model.joblib"


@pytest.fixture()
def workdir(tmp_path, monkeypatch, fitted):
    """Current directory holding train.csv, new.csv and a copy of the fitted model."""
    _table().to_csv(tmp_path / "train.csv", index=False)
    _table(12, seed=1).drop(columns=["label"]).to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "model.joblib").write_bytes(fitted.read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# ================================================================ 1. passwords in storage URLs
@pytest.mark.parametrize("text, expected", [
    ("postgresql://alice:S3cretPW@db.example/optuna", "postgresql://alice:***@db.example/optuna"),
    ("postgresql+psycopg2://alice:S3cretPW@127.0.0.1:5432/db",
     "postgresql+psycopg2://alice:***@127.0.0.1:5432/db"),
    ("mysql://bob:p%40ss:w/rd#?!@host/db", "mysql://bob:***@host/db"),  # special characters
    ("postgresql://alice:p@ss@host/db", "postgresql://alice:***@host/db"),  # unencoded @
    ("redis://:onlypw@host:6379", "redis://:***@host:6379"),
    ("cannot open storage 'postgresql://alice:S3cretPW@h/db' (refused)",
     "cannot open storage 'postgresql://alice:***@h/db' (refused)"),
    ("postgresql://alice:S3cretPW@host", "postgresql://alice:***@host"),
    ("dbname=db user=alice password=S3cretPW host=h", "dbname=db user=alice password=*** host=h"),
    ("postgresql://h/db?user=alice&password=S3cretPW&sslmode=require",
     "postgresql://h/db?user=alice&password=***&sslmode=require"),
])
def test_mask_url_hides_the_password(text, expected):
    assert mask_url(text) == expected
    assert mask_url(mask_url(text)) == expected  # idempotent


@pytest.mark.parametrize("text", [
    "sqlite:///search.db",
    "sqlite:////abs/path/with:colon@sign.db",
    "postgresql://alice@db.example/optuna",
    "postgresql://db.example:5432/optuna",
    "postgresql://alice@host/db?x=a@b",
    "https://example.com/a@b",
    "study.journal",
    "no url here: user:pass@host is not a URL",
    "",
])
def test_mask_url_leaves_text_without_passwords_alone(text):
    assert mask_url(text) == text


def test_mask_url_masks_every_url_of_a_text():
    text = ("tried postgresql://u1:first@h1/d, then mysql+pymysql://u2:second@h2:3306/e and "
            "sqlite:///keep.db; also (postgresql://u3:third@h3)")
    masked = mask_url(text)
    assert masked == ("tried postgresql://u1:***@h1/d, then mysql+pymysql://u2:***@h2:3306/e and "
                      "sqlite:///keep.db; also (postgresql://u3:***@h3)")
    assert not any(secret in masked for secret in ("first", "second", "third"))


def test_mask_url_accepts_any_object():
    assert mask_url(RuntimeError(f"boom {PG_URL}")) == "boom postgresql://alice:***@127.0.0.1:1/db"


def test_open_storage_error_does_not_show_the_password():
    with pytest.raises(ConfigError) as info:
        search.open_storage(PG_URL)
    assert PASSWORD not in str(info.value)
    assert "postgresql://alice:***@127.0.0.1:1/db" in str(info.value)
    with pytest.raises(ConfigError) as info:
        search.open_storage(f"redis://alice:{PASSWORD}@host/0")
    assert PASSWORD not in str(info.value) and "unsupported storage URL" in str(info.value)


@pytest.mark.parametrize("command", ["fit", "worker", "export"])
def test_cli_storage_errors_do_not_show_the_password(workdir, capsys, command):
    args = {
        "fit": ["fit", "train.csv", "--storage", PG_URL, "--trials", 1, "--no-warm-start"],
        "worker": ["worker", "train.csv", "--storage", PG_URL, "--study-name", "s", "--wait", 0],
        "export": ["export", "--storage", PG_URL, "--study-name", "s", "--data", "train.csv",
                   "--output", "out.joblib"],
    }[command]
    line = one_line_error(*run(capsys, *args), "cannot open storage", "alice:***@127.0.0.1")
    assert PASSWORD not in line
    assert not (workdir / "out.joblib").exists() and not (workdir / "train.autometa.joblib").exists()


def test_internal_error_line_masks_urls_and_stays_one_line(workdir, capsys, monkeypatch):
    def broken(storage):
        raise RuntimeError(f"(psycopg2.OperationalError) lost {storage}\nbackground on this error")

    monkeypatch.setattr(search, "open_storage", broken)
    line = one_line_error(*run(capsys, "fit", "train.csv", "--storage", PG_URL), "RuntimeError",
                          "alice:***@127.0.0.1:1/db", "background on this error", exit_code=1)
    assert PASSWORD not in line


def test_user_error_texts_are_masked_too(workdir, capsys, monkeypatch):
    def broken(storage):
        raise ConfigError(f"cannot use {storage} [today]")

    monkeypatch.setattr(search, "open_storage", broken)
    line = one_line_error(*run(capsys, "fit", "train.csv", "--storage", PG_URL))
    assert line == "error: cannot use postgresql://alice:***@127.0.0.1:1/db [today]"


def test_warnings_mask_urls(capsys):
    cli._print_warning(UserWarning(f"retrying {PG_URL}"), UserWarning, "x.py", 1)
    err = capsys.readouterr().err
    assert err.strip() == "warning: retrying postgresql://alice:***@127.0.0.1:1/db"


# ================================================================ 2. output paths
def test_check_output_path_accepts_a_new_or_existing_file(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    assert check_output_path(tmp_path / "out.csv", inputs=[data]) == tmp_path / "out.csv"
    (tmp_path / "old.csv").write_text("x")
    assert check_output_path(str(tmp_path / "old.csv"), inputs=[data, None]) == tmp_path / "old.csv"


@pytest.mark.parametrize("case, fragment", [
    ("same", "would overwrite a file this command reads"),
    ("dotted", "the same file as"),
    ("symlink", "the same file as"),
    ("hardlink", "the same file as"),
    ("folder", "is a folder"),
    ("slash", "is a folder"),
    ("missing_parent", "folder"),
    ("empty", "is empty"),
])
def test_check_output_path_refusals(tmp_path, monkeypatch, case, fragment):
    monkeypatch.chdir(tmp_path)
    Path("data.csv").write_text("a\n1\n")
    Path("sub").mkdir()
    target = {
        "same": "data.csv", "dotted": "./sub/../data.csv", "symlink": "link.csv",
        "hardlink": "hard.csv", "folder": "sub", "slash": "new_folder/", "missing_parent": "no/x.csv",
        "empty": "",
    }[case]
    if case == "symlink":
        os.symlink("data.csv", "link.csv")
    if case == "hardlink":
        os.link("data.csv", "hard.csv")
    with pytest.raises(ConfigError, match="--opt") as info:
        check_output_path(target, inputs=["data.csv"], option="--opt")
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert Path("data.csv").read_text() == "a\n1\n"


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_check_output_path_refuses_a_device():
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_path("/dev/null")


def test_storage_file():
    assert storage_file("study.journal") == "study.journal"
    assert storage_file("sqlite:///dir/search.db") == "dir/search.db"
    assert storage_file("sqlite:////abs/search.db?timeout=3") == "/abs/search.db"
    assert storage_file("sqlite:///:memory:") is None
    assert storage_file(PG_URL) is None and storage_file(None) is None


@pytest.mark.parametrize("output, fragment", [
    ("new.csv", "would overwrite"),          # the data
    ("./new.csv", "same file as 'new.csv'"),
    ("model.joblib", "would overwrite"),     # the model
    ("data_link.csv", "same file as 'new.csv'"),
    ("out", "is a folder"),
    ("not_yet/", "is a folder"),
    ("nowhere/preds.csv", "folder 'nowhere' does not exist"),
])
def test_predict_output_refusals_leave_inputs_untouched(workdir, capsys, output, fragment):
    (workdir / "out").mkdir()
    os.symlink("new.csv", workdir / "data_link.csv")
    before = _snapshot(workdir)
    one_line_error(*run(capsys, "predict", "model.joblib", "new.csv", "--output", output), "--output",
                   fragment)
    assert _snapshot(workdir) == before
    assert not (workdir / "not_yet").exists()


def test_predict_refuses_a_device_output(workdir, capsys):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    one_line_error(*run(capsys, "predict", "model.joblib", "new.csv", "--output", "/dev/null"),
                   "not a regular file")


def test_predict_output_is_written_atomically(workdir, capsys, monkeypatch):
    code, out, err = run(capsys, "predict", "model.joblib", "new.csv", "--output", "preds.csv")
    assert code == 0 and out == "", err
    good = (workdir / "preds.csv").read_bytes()
    assert len(pd.read_csv(workdir / "preds.csv")) == 12
    umask = os.umask(0)
    os.umask(umask)
    assert (workdir / "preds.csv").stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain open() makes

    real = pd.DataFrame.to_csv

    def fails_half_way(self, path_or_buf=None, *args, **kwargs):
        path_or_buf.write("label\npartial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fails_half_way)
    code, out, err = run(capsys, "predict", "model.joblib", "new.csv", "--output", "preds.csv")
    assert code != 0
    assert (workdir / "preds.csv").read_bytes() == good  # never truncated, never half written
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".")] == []  # no temp file left
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("new but incomplete")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    with atomic_write(target, "w") as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640  # the replaced file's permissions are kept


@pytest.mark.parametrize("extra, fragment", [
    (["--output", "train.csv"], "--output 'train.csv' would overwrite"),
    (["--output", "./sub/../train.csv"], "same file as 'train.csv'"),
    (["--output", "folder/"], "is a folder"),
    (["--output", "folder"], "is a folder"),
    (["--output", "study.journal", "--storage", "study.journal"], "would overwrite"),
    (["--output", "r.html", "--report", "r.html"], "--report 'r.html' would overwrite"),
])
def test_fit_output_refusals_come_before_any_work(workdir, capsys, extra, fragment):
    (workdir / "folder").mkdir()
    (workdir / "sub").mkdir()
    before = _snapshot(workdir)
    start = time.perf_counter()
    one_line_error(*run(capsys, "fit", "train.csv", "--trials", 1, "--no-warm-start", *extra), fragment)
    assert time.perf_counter() - start < 5  # no search, no refit
    assert _snapshot(workdir) == before  # nothing written, nothing overwritten
    assert list((workdir / "folder").iterdir()) == []


@pytest.mark.parametrize("output, storage, fragment", [
    ("train.csv", "study.journal", "would overwrite"),
    ("study.journal", "study.journal", "would overwrite"),
    ("search.db", "sqlite:///search.db", "would overwrite"),
    ("out/", "study.journal", "is a folder"),
])
def test_export_output_refusals_leave_inputs_untouched(workdir, capsys, output, storage, fragment):
    (workdir / "study.journal").write_text("")
    (workdir / "search.db").write_bytes(b"SQLite format 3\x00")
    before = _snapshot(workdir)
    one_line_error(*run(capsys, "export", "--storage", storage, "--study-name", "s", "--data",
                        "train.csv", "--output", output), fragment)
    assert _snapshot(workdir) == before


# ================================================================ 3. model files
def test_saved_model_has_a_checked_header_and_round_trips(workdir):
    model = FittedModel.load("model.joblib")
    model.save(workdir / "copy.joblib")
    raw = (workdir / "copy.joblib").read_bytes()
    line, payload = raw.split(b"\n", 1)
    header = json.loads(line)
    assert header["format"] == MODEL_FORMAT and header["format_version"] == FORMAT_VERSION == 2
    assert header["payload"] == "joblib" and header["payload_bytes"] == len(payload)
    assert header["sha256"] == hashlib.sha256(payload).hexdigest()
    assert header["task"] == "binary" and header["target"] == "label"
    assert set(header["versions"]) == {"autometa", "scikit-learn", "lightgbm"}
    assert FittedModel.read_header(workdir / "copy.joblib") == (header, len(line) + 1)
    again = FittedModel.load(workdir / "copy.joblib")
    frame = pd.read_csv(workdir / "new.csv")
    assert (again.predict(frame) == model.predict(frame)).all()
    assert again.best_config == model.best_config and again.classes == ["no", "yes"]
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".")] == []


class _Evil:
    """Unpickling this creates the file ``marker`` (standing in for arbitrary code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_bytes(marker: Path) -> bytes:
    data = pickle.dumps(_Evil(str(marker)))
    probe = marker.with_name(marker.name + ".probe")
    pickle.loads(pickle.dumps(_Evil(str(probe)))).close()  # the payload really does run code
    assert probe.exists()
    probe.unlink()
    return data


def _with_header(data: bytes, **changes) -> bytes:
    header = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, "payload": "joblib",
              "payload_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
              "task": "binary", "target": "label", "metric": "roc_auc", "versions": {}}
    header.update(changes)
    return json.dumps(header).encode() + b"\n" + data


def test_plain_pickles_are_refused_before_unpickling(workdir, capsys):
    marker = workdir / "pwned"
    (workdir / "evil.joblib").write_bytes(_evil_bytes(marker))
    one_line_error(*run(capsys, "predict", "evil.joblib", "new.csv"), "is not an autometa model")
    joblib.dump(_Evil(str(marker)), workdir / "evil2.joblib")
    one_line_error(*run(capsys, "predict", "evil2.joblib", "new.csv"), "is not an autometa model")
    joblib.dump({"not": "a model"}, workdir / "dict.joblib")
    one_line_error(*run(capsys, "predict", "dict.joblib", "new.csv"), "is not an autometa model")
    assert not marker.exists()


def test_tampered_payloads_are_refused_before_unpickling(workdir, capsys):
    marker = workdir / "pwned"
    evil = _evil_bytes(marker)
    good = FittedModel.read_header(workdir / "model.joblib")[0]
    # an evil payload under a genuine model's header: checksum (and length) mismatch
    forged = json.dumps(good).encode() + b"\n" + evil
    (workdir / "forged.joblib").write_bytes(forged)
    one_line_error(*run(capsys, "predict", "forged.joblib", "new.csv"), "forged.joblib")
    padded = evil + b"." * (good["payload_bytes"] - len(evil))
    (workdir / "forged2.joblib").write_bytes(json.dumps(good).encode() + b"\n" + padded)
    one_line_error(*run(capsys, "predict", "forged2.joblib", "new.csv"), "checksum")
    assert not marker.exists()


def test_flipped_byte_is_a_checksum_error(workdir, capsys):
    raw = bytearray((workdir / "model.joblib").read_bytes())
    raw[-10] ^= 0x01
    (workdir / "flipped.joblib").write_bytes(bytes(raw))
    one_line_error(*run(capsys, "predict", "flipped.joblib", "new.csv"), "flipped.joblib",
                   "checksum does not match")
    with pytest.raises(DataError, match="corrupt or was modified"):
        FittedModel.load(workdir / "flipped.joblib")


def test_truncated_and_padded_models_are_refused(workdir, capsys):
    raw = (workdir / "model.joblib").read_bytes()
    (workdir / "short.joblib").write_bytes(raw[:-100])
    one_line_error(*run(capsys, "predict", "short.joblib", "new.csv"), "truncated")
    (workdir / "long.joblib").write_bytes(raw + b"extra")
    one_line_error(*run(capsys, "predict", "long.joblib", "new.csv"), "extra bytes")
    (workdir / "header_only.joblib").write_bytes(raw.split(b"\n", 1)[0])  # no newline, no payload
    one_line_error(*run(capsys, "predict", "header_only.joblib", "new.csv"), "not an autometa model")


def test_other_headers_are_refused(workdir, capsys):
    payload = b"irrelevant"
    cases = {
        "newer.joblib": (_with_header(payload, format_version=99), "upgrade autometa"),
        "other.joblib": (_with_header(payload, format="something-else"), "not an autometa model"),
        "nosha.joblib": (_with_header(payload, sha256=None), "not an autometa model"),
        "pickle.joblib": (_with_header(payload, payload="pickle"), "not an autometa model"),
        "json.joblib": (b'["format", "autometa-model"]\n' + payload, "not an autometa model"),
        "binary.joblib": (b"\x80\x04garbage", "not an autometa model"),
        "empty.joblib": (b"", "not an autometa model"),
    }
    for name, (content, fragment) in cases.items():
        (workdir / name).write_bytes(content)
        one_line_error(*run(capsys, "predict", name, "new.csv"), name, fragment)


def test_model_of_the_old_format_is_refused_with_a_hint(workdir, capsys):
    model = FittedModel.load("model.joblib")
    joblib.dump(model, workdir / "v1.joblib", compress=3)  # how format 1 was written
    one_line_error(*run(capsys, "predict", "v1.joblib", "new.csv"), "not an autometa model",
                   "must be refitted")


def test_valid_checksum_but_unreadable_payload(workdir, capsys):
    (workdir / "garbage.joblib").write_bytes(_with_header(b"\x80\x04garbage"))
    one_line_error(*run(capsys, "predict", "garbage.joblib", "new.csv"), "cannot read model file")
    (workdir / "dict.joblib").write_bytes(_with_header(pickle.dumps({"a": 1})))
    one_line_error(*run(capsys, "predict", "dict.joblib", "new.csv"),
                   "is not an autometa model (found dict)")


def test_predict_help_warns_about_untrusted_models(capsys):
    code, out, _ = run(capsys, "predict", "--help")
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "Only load models you trust" in text and "malicious" in text
