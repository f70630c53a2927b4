"""A loopback fake of OpenML's REST API (v1, XML) for tests: the real ``openml`` client talks to it.

:class:`FakeOpenML` is a :class:`http.server.ThreadingHTTPServer` bound to 127.0.0.1 on a free
port. It answers the calls ``openml`` makes while importing run histories:

=====================================================  =============================================
path (after the server root)                           answer
=====================================================  =============================================
``/api/v1/xml/task/<id>``                              shared fixture ``tasks/<id>/task.xml`` or a
                                                       hand-written ``tests/data/openml/task_<id>.xml``
``/api/v1/xml/data/<id>``                              dataset description; its file URL is rewritten
                                                       to this server
``/api/v1/xml/data/features/<id>``, ``.../qualities/``  feature and quality descriptions
``/data/download/<file_id>/<name>``                    the ARFF file
``/api_splits/get/<task>/<name>``                      the task's split file
``/api/v1/xml/evaluation/list/<filters>``              evaluations from ``runs.json`` and the real
                                                       run descriptions, filtered
``/api/v1/xml/setup/list/<filters>``                   setups from ``setups.json`` and the real
                                                       setup descriptions, filtered
``/api/v1/xml/run/<id>``                               shared fixture ``runs/<id>/description.xml``
``/api/v1/xml/setup/<id>``                             shared fixture ``api/v1/xml/setup/<id>/body.xml``
``/api/v1/xml/user/list/user_id/<ids>``                uploaders of the listed runs
``/api/v1/xml/study/<id>``                             hand-written ``study_<id>.xml``
=====================================================  =============================================

Real OpenML responses are served as they are (tasks 1, 3 and 1882, dataset 2, run and setup
descriptions) and read in place from the shared fixtures, never copied. OpenML's evaluation and
setup *lists* are not among them, so the server derives list entries from the real documents:
every ``runs/<id>/description.xml`` gives one evaluation-list entry per aggregated measure of
the run (run 100 on task 28, optdigits, flow ``weka.BayesNet_K2(1)``: its real
``predictive_accuracy`` 0.922242 and ``area_under_roc_curve`` 0.990288; the description has no
upload time, so the entry has none), and every ``api/v1/xml/setup/<id>/body.xml`` one
setup-list entry (setup 100, ``weka.J48``) with its real parameters. Hand-written evaluations and
setups (``runs.json``, ``setups.json``) come on top.

Dataset 2 (anneal) comes from the shared fixtures as OpenML served it. Dataset 30 (abalone) is
built here from the shared fixture ``datasets/30/dataset_30.pq``, datasets 3 (kr-vs-kp) and 28
(optdigits) from the shared ARFF corpus (``datasets/arff`` beside the OpenML fixtures, see
:data:`ARFF_DATASETS`): the ARFF file, description (with the file's real MD5), features and a
few qualities are computed from the table.
Unknown ids get OpenML's own error documents (HTTP 412, ``<oml:error>`` with OpenML's codes:
151 unknown task, 111/271/361 unknown dataset, 542/674 no results, 601 unknown study).
Every request is logged in :attr:`FakeOpenML.requests` with the client address, so tests can
check what was asked and that nothing but loopback clients came in.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional
from xml.sax.saxutils import escape

DATA_DIR = Path(__file__).resolve().parent / "data" / "openml"
OML = 'xmlns:oml="http://openml.org/openml"'
_NS = {"oml": "http://openml.org/openml"}

#: datasets built from the shared ARFF corpus: OpenML id -> (OpenML name, file under datasets/arff);
#: the target is the file's last attribute (``class`` in both)
ARFF_DATASETS: dict[int, tuple[str, str]] = {
    3: ("kr-vs-kp", "classification/kr.vs.kp.arff.gz"),
    28: ("optdigits", "classification/optdigits.arff.gz"),
}
PARQUET_DATASETS: dict[int, tuple[str, str]] = {30: ("abalone", "Class_number_of_rings")}


@dataclass(frozen=True)
class Request:
    """One request the fake server received."""

    client: str
    method: str
    path: str
    query: str = ""


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "text/xml; charset=utf-8"


class OpenMLErrorResponse(Exception):
    """Raised inside a route to answer with OpenML's ``<oml:error>`` document."""

    def __init__(self, code: int, message: str, status: int = 412) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def error_xml(code: int, message: str) -> str:
    """OpenML's error document (what the server sends with HTTP 412)."""
    return (f"<oml:error {OML}>\n  <oml:code>{code}</oml:code>\n"
            f"  <oml:message>{escape(message)}</oml:message>\n</oml:error>\n")


def _filters(segments: list[str]) -> dict[str, str]:
    """``a/1/b/2,3`` path segments -> {"a": "1", "b": "2,3"} (OpenML's list-call filter syntax)."""
    if len(segments) % 2:
        raise OpenMLErrorResponse(544, "Illegal filter specified")
    return {segments[i]: segments[i + 1] for i in range(0, len(segments), 2)}


def _ids(text: Optional[str]) -> Optional[set[int]]:
    return None if text is None else {int(t) for t in text.split(",") if t}


class FakeOpenML:
    """The fake OpenML server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, fixtures: Path, data_dir: Path = DATA_DIR, arff_dir: Optional[Path] = None) -> None:
        self.fixtures = Path(fixtures) / "org" / "openml" / "test"
        self.data_dir = Path(data_dir)
        self.arff_dir = Path(arff_dir) if arff_dir is not None else Path(fixtures).parent / "datasets" / "arff"
        self.requests: list[Request] = []
        #: path regex -> (code, message): answer matching API calls with this OpenML error
        self.errors: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._runs: list[dict[str, Any]] = json.loads((self.data_dir / "runs.json").read_text())["runs"]
        self._setups: dict[int, dict[str, Any]] = {
            int(s["setup_id"]): s for s in json.loads((self.data_dir / "setups.json").read_text())["setups"]
        }
        #: list entries derived from the real run and setup descriptions of the shared fixtures
        self.real_runs = [real_run(p) for p in sorted((self.fixtures / "runs").glob("*/description.xml"))]
        self.real_setups = [real_setup(p) for p in
                            sorted((self.fixtures / "api" / "v1" / "xml" / "setup").glob("*/body.xml"))]
        self._runs += self.real_runs
        self._setups.update({int(s["setup_id"]): s for s in self.real_setups})
        self._generated: dict[int, dict[str, str]] = {}

    # ------------------------------------------------------------------ life cycle
    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (the server root)."""
        if self._httpd is None:
            raise RuntimeError("the fake OpenML server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The value for ``openml.config.server`` / ``--server``."""
        return self.base + "/api/v1/xml"

    def start(self) -> "FakeOpenML":
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                owner._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # requests are recorded in owner.requests instead

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openml", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeOpenML":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def paths(self) -> list[str]:
        """Paths requested so far (without the query string), in order."""
        with self._lock:
            return [r.path for r in self.requests]

    # ------------------------------------------------------------------ dispatch
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        with self._lock:
            self.requests.append(Request(handler.client_address[0], handler.command, path, query))
        try:
            response = self._route(path)
        except OpenMLErrorResponse as exc:
            response = _Response(exc.status, error_xml(exc.code, exc.message).encode())
        except Exception as exc:  # a bug in the fake: answer 500 so the test sees it
            response = _Response(500, f"fake OpenML server error: {type(exc).__name__}: {exc}".encode(),
                                 "text/plain; charset=utf-8")
        body = response.body
        gzipped = "gzip" in (handler.headers.get("Accept-Encoding") or "")
        if gzipped:
            body = gzip.compress(body)
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        if gzipped:
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _route(self, path: str) -> _Response:
        api = "/api/v1/xml/"
        if path.startswith(api):
            call = path[len(api):].strip("/")
            for pattern, (code, message) in self.errors.items():
                if re.search(pattern, call):
                    raise OpenMLErrorResponse(code, message)
            parts = call.split("/")
            routes: list[tuple[str, Callable[[list[str]], str]]] = [
                ("task", self._task), ("data", self._data), ("evaluation", self._evaluations),
                ("setup", self._setup), ("run", self._run), ("user", self._users), ("study", self._study),
            ]
            for name, route in routes:
                if parts[0] == name:
                    return _Response(200, route(parts[1:]).encode("utf-8"))
            raise OpenMLErrorResponse(100, "Function not valid")
        m = re.fullmatch(r"/data/download/(\d+)/[^/]+", path)
        if m:
            return _Response(200, self._data_file(int(m.group(1))), "text/plain; charset=utf-8")
        m = re.fullmatch(r"/api_splits/get/(\d+)/[^/]+", path)
        if m:
            split = self.fixtures / "tasks" / m.group(1) / "datasplits.arff"
            if split.is_file():
                return _Response(200, split.read_bytes(), "text/plain; charset=utf-8")
        return _Response(404, b"not found", "text/plain; charset=utf-8")

    # ------------------------------------------------------------------ tasks
    def _task(self, parts: list[str]) -> str:
        if len(parts) != 1 or not parts[0].isdigit():
            raise OpenMLErrorResponse(150, "Please provide task_id")
        tid = int(parts[0])
        for candidate in (self.fixtures / "tasks" / str(tid) / "task.xml", self.data_dir / f"task_{tid}.xml"):
            if candidate.is_file():
                text = candidate.read_text(encoding="utf-8")
                # split files are served here, never from the host named in the fixture
                return re.sub(r"https?://[^<]*?/api_splits/get/", self.base + "/api_splits/get/", text)
        raise OpenMLErrorResponse(151, "Unknown task")

    # ------------------------------------------------------------------ datasets
    def _data(self, parts: list[str]) -> str:
        if len(parts) == 1 and parts[0].lstrip("-").isdigit():
            return self._description(int(parts[0]))
        if len(parts) == 2 and parts[0] == "features" and parts[1].isdigit():
            return self._dataset_file(int(parts[1]), "features.xml", 271)
        if len(parts) == 2 and parts[0] == "qualities" and parts[1].isdigit():
            return self._dataset_file(int(parts[1]), "qualities.xml", 361)
        raise OpenMLErrorResponse(100, "Function not valid")

    def _description(self, did: int) -> str:
        if did in self._generated_ids():
            return self._generate(did)["description.xml"]
        path = self.fixtures / "datasets" / str(did) / "description.xml"
        if did < 0 or not path.is_file():
            raise OpenMLErrorResponse(111, "Unknown dataset")
        text = path.read_text(encoding="utf-8")
        m = re.search(r"<oml:file_id>(\d+)</oml:file_id>", text)
        file_id = m.group(1) if m else str(did)
        return re.sub(r"<oml:url>[^<]*</oml:url>",
                      f"<oml:url>{self.base}/data/download/{file_id}/dataset_{did}.arff</oml:url>", text)

    def _dataset_file(self, did: int, name: str, unknown_code: int) -> str:
        if did in self._generated_ids():
            return self._generate(did)[name]
        path = self.fixtures / "datasets" / str(did) / name
        if not path.is_file():
            raise OpenMLErrorResponse(unknown_code, "Unknown dataset")
        return path.read_text(encoding="utf-8")

    def _data_file(self, file_id: int) -> bytes:
        for did in self._generated_ids():
            if file_id == self._file_id(did):
                return self._generate(did)["dataset.arff"].encode("utf-8")
        for desc in (self.fixtures / "datasets").glob("*/description.xml"):
            if f"<oml:file_id>{file_id}</oml:file_id>" in desc.read_text(encoding="utf-8"):
                return (desc.parent / "dataset.arff").read_bytes()
        raise OpenMLErrorResponse(113, "Could not find data file record")

    # datasets generated from shared tables (the ARFF is what OpenML serves)
    def _parquet_path(self, did: int) -> Path:
        return self.fixtures / "datasets" / str(did) / f"dataset_{did}.pq"

    def _generated_ids(self) -> set[int]:
        ids = {did for did in PARQUET_DATASETS if self._parquet_path(did).is_file()}
        return ids | {did for did, (_, rel) in ARFF_DATASETS.items() if (self.arff_dir / rel).is_file()}

    @staticmethod
    def _file_id(did: int) -> int:
        return 1_000_000 + did

    def _generate(self, did: int) -> dict[str, str]:
        with self._lock:
            if did not in self._generated:
                if did in PARQUET_DATASETS:
                    frame, name, target, about = self._load_parquet(did)
                else:
                    frame, name, target, about = self._load_arff(did)
                self._generated[did] = self._build_dataset(did, frame, name, target, about)
            return self._generated[did]

    def _load_parquet(self, did: int) -> tuple[Any, str, str, str]:
        import numpy as np
        import pandas as pd

        name, target = PARQUET_DATASETS[did]
        frame = pd.read_parquet(self._parquet_path(did))
        # the ring count is the regression target (abalone age); the parquet stores it as labels
        frame[target] = pd.to_numeric(frame[target].astype(str)).astype(np.float64)
        about = ("Abalone physical measurements; predict the number of rings (age). Built by the test server "
                 "from the shared parquet fixture.")
        return frame, name, target, about

    def _load_arff(self, did: int) -> tuple[Any, str, str, str]:
        import arff  # liac-arff, a dependency of openml
        import pandas as pd

        name, rel = ARFF_DATASETS[did]
        with gzip.open(self.arff_dir / rel, "rt", encoding="utf-8", errors="replace") as fh:
            parsed = arff.load(fh)
        columns = {}
        for index, (attr, kind) in enumerate(parsed["attributes"]):
            values = [row[index] for row in parsed["data"]]
            if isinstance(kind, list):
                columns[attr] = pd.Categorical(values, categories=[str(k) for k in kind])
            else:
                columns[attr] = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce")
        frame = pd.DataFrame(columns)
        target = str(parsed["attributes"][-1][0])
        about = f"Built by the test server from the shared ARFF corpus file datasets/arff/{rel}."
        return frame, name, target, about

    def _build_dataset(self, did: int, frame: Any, name: str, target: str, about: str) -> dict[str, str]:
        import pandas as pd

        lines = [f"@RELATION {name}", ""]
        features = []
        for index, (column, col) in enumerate(frame.items()):
            nominal = isinstance(col.dtype, pd.CategoricalDtype)
            levels = [str(c) for c in col.cat.categories] if nominal else []
            spec = "{" + ",".join(levels) + "}" if nominal else "NUMERIC"
            lines.append(f"@ATTRIBUTE {column} {spec}")
            values = "".join(f"\n      <oml:nominal_value>{escape(v)}</oml:nominal_value>" for v in levels)
            features.append(
                f"  <oml:feature>\n    <oml:index>{index}</oml:index>\n    <oml:name>{escape(column)}</oml:name>\n"
                f"    <oml:data_type>{'nominal' if nominal else 'numeric'}</oml:data_type>{values}\n"
                f"    <oml:is_target>{'true' if column == target else 'false'}</oml:is_target>\n"
                "    <oml:is_ignore>false</oml:is_ignore>\n    <oml:is_row_identifier>false</oml:is_row_identifier>\n"
                f"    <oml:number_of_missing_values>{int(col.isna().sum())}</oml:number_of_missing_values>\n"
                "  </oml:feature>"
            )
        lines += ["", "@DATA"]
        cells = frame.astype(object).where(frame.notna(), "?")
        for row in cells.itertuples(index=False):
            lines.append(",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row))
        arff = "\n".join(lines) + "\n"
        md5 = hashlib.md5(arff.encode("utf-8")).hexdigest()
        file_id = self._file_id(did)
        description = (
            f"<oml:data_set_description {OML}>\n  <oml:id>{did}</oml:id>\n  <oml:name>{escape(name)}</oml:name>\n"
            f"  <oml:version>1</oml:version>\n  <oml:description>{escape(about)}</oml:description>\n"
            "  <oml:format>ARFF</oml:format>\n  <oml:upload_date>2014-04-06T23:21:11</oml:upload_date>\n"
            "  <oml:licence>Public</oml:licence>\n"
            f"  <oml:url>{self.base}/data/download/{file_id}/dataset_{did}.arff</oml:url>\n"
            f"  <oml:file_id>{file_id}</oml:file_id>\n"
            f"  <oml:default_target_attribute>{target}</oml:default_target_attribute>\n"
            "  <oml:visibility>public</oml:visibility>\n  <oml:status>active</oml:status>\n"
            f"  <oml:md5_checksum>{md5}</oml:md5_checksum>\n</oml:data_set_description>\n"
        )
        X = frame.drop(columns=[target])
        numeric = [c for c in X if not isinstance(X[c].dtype, pd.CategoricalDtype)]
        nominal_target = isinstance(frame[target].dtype, pd.CategoricalDtype)
        qualities = {
            "NumberOfInstances": float(len(frame)),
            "NumberOfFeatures": float(frame.shape[1]),
            "NumberOfNumericFeatures": float(len(numeric) + (0 if nominal_target else 1)),
            "NumberOfSymbolicFeatures": float(X.shape[1] - len(numeric) + (1 if nominal_target else 0)),
            "NumberOfMissingValues": float(frame.isna().sum().sum()),
            "NumberOfInstancesWithMissingValues": float(frame.isna().any(axis=1).sum()),
        }
        if nominal_target:
            counts = frame[target].value_counts()
            qualities.update({"NumberOfClasses": float((counts > 0).sum()),
                              "MajorityClassSize": float(counts.max()), "MinorityClassSize": float(counts.min())})
        else:
            qualities["MeanTargetValue"] = float(frame[target].mean())
        quality_xml = "".join(
            f"  <oml:quality>\n    <oml:name>{k}</oml:name>\n    <oml:value>{v!r}</oml:value>\n  </oml:quality>\n"
            for k, v in qualities.items()
        )
        return {
            "description.xml": description,
            "features.xml": f"<oml:data_features {OML}>\n" + "\n".join(features) + "\n</oml:data_features>\n",
            "qualities.xml": f"<oml:data_qualities {OML}>\n{quality_xml}</oml:data_qualities>\n",
            "dataset.arff": arff,
        }

    # ------------------------------------------------------------------ evaluations, setups, users
    def _evaluations(self, parts: list[str]) -> str:
        if not parts or parts[0] != "list":
            raise OpenMLErrorResponse(100, "Function not valid")
        f = _filters(parts[1:])
        unknown = set(f) - {"function", "task", "flow", "setup", "run", "uploader", "limit", "offset",
                            "per_fold", "sort_order", "tag"}
        if unknown:
            raise OpenMLErrorResponse(544, "Illegal filter specified")
        if not any(k in f for k in ("task", "flow", "setup", "uploader", "run")):
            raise OpenMLErrorResponse(540, "Please provide at least task, flow or setup, uploader or run, "
                                           "to filter results. ")
        tasks, flows, setups, runs = (_ids(f.get(k)) for k in ("task", "flow", "setup", "run"))
        uploaders = _ids(f.get("uploader"))
        rows = []
        for run in self._runs:
            if "function" in f and f["function"] not in run["evaluations"]:
                continue
            if ((tasks is not None and run["task_id"] not in tasks)
                    or (flows is not None and run["flow_id"] not in flows)
                    or (setups is not None and run["setup_id"] not in setups)
                    or (runs is not None and run["run_id"] not in runs)
                    or (uploaders is not None and run["uploader"] not in uploaders)):
                continue
            rows.append(run)
        if f.get("sort_order") in ("asc", "desc") and "function" in f:
            rows.sort(key=lambda r: r["evaluations"][f["function"]], reverse=f["sort_order"] == "desc")
        offset = int(f.get("offset", 0))
        rows = rows[offset:offset + int(f["limit"])] if "limit" in f else rows[offset:]
        if not rows:
            raise OpenMLErrorResponse(542, "No results")
        items = []
        for run in rows:
            functions = [f["function"]] if "function" in f else list(run["evaluations"])
            for fn in functions:
                items.append(
                    "  <oml:evaluation>\n"
                    f"    <oml:run_id>{run['run_id']}</oml:run_id>\n    <oml:task_id>{run['task_id']}</oml:task_id>\n"
                    f"    <oml:setup_id>{run['setup_id']}</oml:setup_id>\n    <oml:flow_id>{run['flow_id']}</oml:flow_id>\n"
                    f"    <oml:flow_name>{escape(run['flow_name'])}</oml:flow_name>\n"
                    f"    <oml:data_id>{run['data_id']}</oml:data_id>\n"
                    f"    <oml:data_name>{escape(run['data_name'])}</oml:data_name>\n"
                    f"    <oml:function>{fn}</oml:function>\n"
                    f"    <oml:upload_time>{run['upload_time']}</oml:upload_time>\n"
                    f"    <oml:uploader>{run['uploader']}</oml:uploader>\n"
                    f"    <oml:value>{run['evaluations'][fn]!r}</oml:value>\n"
                    "  </oml:evaluation>"
                )
        return f"<oml:evaluations {OML}>\n" + "\n".join(items) + "\n</oml:evaluations>\n"

    def _run(self, parts: list[str]) -> str:
        """``run/<id>``: the real run description of the shared fixtures."""
        if len(parts) == 1 and parts[0].isdigit():
            path = self.fixtures / "runs" / parts[0] / "description.xml"
            if path.is_file():
                return path.read_text(encoding="utf-8")
        raise OpenMLErrorResponse(220, "Run not found")

    def _setup(self, parts: list[str]) -> str:
        """``setup/<id>`` (the real setup description of the shared fixtures) or ``setup/list/...``."""
        if len(parts) == 1 and parts[0].isdigit():
            path = self.fixtures / "api" / "v1" / "xml" / "setup" / parts[0] / "body.xml"
            if path.is_file():
                return path.read_text(encoding="utf-8")
            raise OpenMLErrorResponse(281, "Setup not found")
        return self._setup_list(parts)

    def _setup_list(self, parts: list[str]) -> str:
        if not parts or parts[0] != "list":
            raise OpenMLErrorResponse(100, "Function not valid")
        f = _filters(parts[1:])
        if set(f) - {"setup", "flow", "tag", "limit", "offset"}:
            raise OpenMLErrorResponse(671, "Illegal filter. ")
        wanted, flow = _ids(f.get("setup")), f.get("flow")
        chosen = [s for sid, s in sorted(self._setups.items())
                  if (wanted is None or sid in wanted) and (flow is None or s["flow_id"] == int(flow))]
        offset = int(f.get("offset", 0))
        chosen = chosen[offset:offset + int(f["limit"])] if "limit" in f else chosen[offset:]
        if not chosen:
            raise OpenMLErrorResponse(674, "No results, please check the filter. ")
        out = [f"<oml:setups {OML}>"]
        for s in chosen:
            out.append(f"  <oml:setup>\n    <oml:setup_id>{s['setup_id']}</oml:setup_id>\n"
                       f"    <oml:flow_id>{s['flow_id']}</oml:flow_id>")
            for p in s["parameters"]:
                out.append(
                    "    <oml:parameter>\n"
                    f"      <oml:id>{p['id']}</oml:id>\n      <oml:flow_id>{p['flow_id']}</oml:flow_id>\n"
                    f"      <oml:flow_name>{escape(p['flow_name'])}</oml:flow_name>\n"
                    f"      <oml:full_name>{escape(p.get('full_name') or p['flow_name'] + '_' + p['name'])}"
                    "</oml:full_name>\n"
                    f"      <oml:parameter_name>{escape(p['name'])}</oml:parameter_name>\n"
                    f"      <oml:data_type>{escape(p.get('data_type', ''))}</oml:data_type>\n"
                    f"      <oml:default_value>{escape(p.get('default', ''))}</oml:default_value>\n"
                    f"      <oml:value>{escape(p['value'])}</oml:value>\n"
                    "    </oml:parameter>"
                )
            out.append("  </oml:setup>")
        out.append("</oml:setups>")
        return "\n".join(out) + "\n"

    def _users(self, parts: list[str]) -> str:
        f = _filters(parts[1:]) if parts and parts[0] == "list" else {}
        wanted = _ids(f.get("user_id"))
        names = {r["uploader"]: r["uploader_name"] for r in self._runs}
        chosen = [u for u in sorted(names) if wanted is None or u in wanted]
        if not chosen:
            raise OpenMLErrorResponse(463, "User not found. ")
        users = "".join(f"  <oml:user>\n    <oml:id>{u}</oml:id>\n    <oml:username>{escape(names[u])}"
                        "</oml:username>\n  </oml:user>\n" for u in chosen)
        return f"<oml:users {OML}>\n{users}</oml:users>\n"

    # ------------------------------------------------------------------ studies
    def _study(self, parts: list[str]) -> str:
        """``study/<id>`` or ``study/<alias>`` from the hand-written ``study_<id>.xml`` files."""
        if len(parts) == 1:
            for path in sorted(self.data_dir.glob("study_*.xml")):
                text = path.read_text(encoding="utf-8")
                if path.stem == f"study_{parts[0]}" or f"<oml:alias>{parts[0]}</oml:alias>" in text:
                    return text
        raise OpenMLErrorResponse(601, "Study does not exist. ")


# ------------------------------------------------------------------ real documents -> list entries
def _text(node: Any, path: str) -> str:
    found = node.findtext(path, namespaces=_NS)
    return (found or "").strip()


def real_run(path: Path) -> dict[str, Any]:
    """The evaluation-list entry of a real run description (``runs/<id>/description.xml``).

    Its aggregated evaluations (those without ``repeat`` / ``fold``) with a numeric value become
    the listed measures; run, task, setup, flow, dataset and uploader are the document's.
    """
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    evaluations: dict[str, float] = {}
    for ev in root.findall("oml:output_data/oml:evaluation", _NS):
        if "fold" in ev.attrib or "repeat" in ev.attrib:
            continue
        try:
            evaluations[_text(ev, "oml:name")] = float(_text(ev, "oml:value"))
        except ValueError:  # os_information and other measures without a number
            continue
    dataset = root.find("oml:input_data/oml:dataset", _NS)
    return {
        "run_id": int(_text(root, "oml:run_id")), "task_id": int(_text(root, "oml:task_id")),
        "setup_id": int(_text(root, "oml:setup_id")), "flow_id": int(_text(root, "oml:flow_id")),
        "flow_name": _text(root, "oml:flow_name"), "data_id": int(_text(dataset, "oml:did")),
        "data_name": _text(dataset, "oml:name"), "uploader": int(_text(root, "oml:uploader")),
        "uploader_name": _text(root, "oml:uploader_name"), "upload_time": "",  # not in the description
        "evaluations": evaluations, "source": str(path),
    }


def real_setup(path: Path) -> dict[str, Any]:
    """The setup-list entry of a real setup description (``api/v1/xml/setup/<id>/body.xml``)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    parameters = [{
        "id": int(_text(p, "oml:id")), "flow_id": int(_text(p, "oml:flow_id")),
        "flow_name": _text(p, "oml:flow_name"), "full_name": _text(p, "oml:full_name"),
        "name": _text(p, "oml:parameter_name"), "data_type": _text(p, "oml:data_type"),
        "default": _text(p, "oml:default_value"), "value": _text(p, "oml:value"),
    } for p in root.findall("oml:parameter", _NS)]
    return {"setup_id": int(_text(root, "oml:setup_id")), "flow_id": int(_text(root, "oml:flow_id")),
            "parameters": parameters, "source": str(path)}
