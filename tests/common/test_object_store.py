"""Storage on a real S3-compatible server (moto's server mode, a separate process on a free port).

The Python-side stages' files — tables, manifests, the week's commit pointer, the
registry — go through ``jobs.common.fs``; a publish killed between two table writes
leaves the previous run visible, and an unsupported root is refused before anything
is written.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import inspect
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from core.errors import InputError
from jobs.common import fs, storage
from jobs.common.settings import Settings
from schemas.tables import StageRecord

REPO = Path(__file__).resolve().parents[2]
MOTO_VENV = REPO / ".venv-moto"
MOTO = "moto[server]==5.2.5"  # the same pin as the test extra in pyproject.toml
WEEK = "2026-W47"


def _moto_command() -> list[str]:
    if importlib.util.find_spec("moto") is not None:
        return [sys.executable, "-m", "moto.server"]
    server = MOTO_VENV / "bin" / "moto_server"
    if not server.exists():  # kept out of the project venv: Flask and friends stay apart from Airflow's
        subprocess.run([sys._base_executable, "-m", "venv", str(MOTO_VENV)], check=True)
        subprocess.run([str(MOTO_VENV / "bin" / "pip"), "install", "-q", MOTO], check=True, timeout=900)
    return [str(server)]


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen([*_moto_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_REGION": "us-east-1"})
    pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", access_key="test", secret_key="test",
                      region="us-east-1", allow_bucket_creation=True).create_dir("warehouse")
    try:
        yield endpoint
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


@pytest.fixture
def root(s3_endpoint, request) -> str:
    return f"s3://warehouse/{request.node.name}"


def signals(n: int, run_id: str) -> pa.Table:
    return pa.table({
        "query_id": [f"q{i}" for i in range(n)], "order": pa.array([1] * n, pa.int32()),
        "action": ["refine search condition"] * n, "info": ["black"] * n, "reasoning": ["r"] * n,
        "backend": ["rules"] * n, "model": ["rules"] * n, "prompt_name": ["reason"] * n,
        "prompt_version": [1] * n, "run_id": [run_id] * n,
    })


def objects(root: str) -> list[str]:
    filesystem, path = fs.resolve(root)
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    return sorted(i.path.removeprefix(path + "/") for i in infos if i.type == pafs.FileType.File)


def record(stage: str) -> StageRecord:
    return StageRecord(stage=stage, started=dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc), seconds=1.0,
                       tables={}, metrics={})


def test_a_run_commits_its_tables_and_manifest_on_s3(root):
    settings = Settings(run_id="r1")
    began = time.perf_counter()
    with storage.run_commit(root, WEEK, settings, fingerprint="f" * 64) as run_id:
        storage.write_table(root, "signals", WEEK, run_id, signals(3, run_id))
        assert storage.latest_run(root, "signals", WEEK) is None  # written, not yet visible
        storage.record_stage(root, WEEK, run_id, settings, record("analyse"))
    print(f"s3 publish of one table + manifest + pointer: {time.perf_counter() - began:.2f} s")
    assert storage.latest_run(root, "signals", WEEK) == "r1"
    assert storage.read_table(root, "signals", WEEK).num_rows == 3
    manifest = storage.read_manifest(root, WEEK, "r1")
    assert manifest.status == "complete" and manifest.inputs["logs_fingerprint"] == "f" * 64
    assert storage.committed_files(root, "signals", WEEK) == [f"{root}/signals/week={WEEK}/run=r1/part-00000.parquet"]
    assert objects(root) == ["_manifests/week=2026-W47/_COMMITTED.json", "_manifests/week=2026-W47/run=r1.json",
                             "signals/week=2026-W47/run=r1/_SUCCESS", "signals/week=2026-W47/run=r1/part-00000.parquet"]


def test_registry_files_on_s3(root):
    from jobs.registry import ontology as series
    from jobs.registry import tool_lists, tools

    registry = tools.load(root)
    tools.save(root, registry)
    assert tools.load(root) == registry
    table = pa.table({"index": [0, 1], "title": ["a", "b"], "run_id": ["r", "r"], "list_version": [1, 1]})
    assert tool_lists.assign_version(root, table) == (1, True)
    tool_lists.publish_version(root, 1, table, WEEK, "r")
    assert tool_lists.assign_version(root, table) == (1, False)
    onto = {"name": "t", "version": 1, "categories": [{"name": "shoes", "keywords": ["shoe"], "subcategories": [{"name": "boots", "keywords": ["boot"]}]}]}
    path = series.write(root, onto)
    assert str(path) == f"{root}/_registry/ontology/v0001.yaml" and series.latest(root).version == 1
    assert "_registry/tools.json" in objects(root) and "_registry/tool_lists/v0001.json" in objects(root)


KILLED = """
import os, sys, time, pyarrow as pa
from jobs.common import storage
from jobs.common.settings import Settings
root, marker = sys.argv[1], sys.argv[2]
def signals(n, run_id):
    return pa.table({"query_id": [f"q{i}" for i in range(n)], "order": pa.array([1] * n, pa.int32()),
                     "action": ["a"] * n, "info": ["b"] * n, "reasoning": ["r"] * n, "backend": ["rules"] * n,
                     "model": ["rules"] * n, "prompt_name": ["p"] * n, "prompt_version": [1] * n,
                     "run_id": [run_id] * n})
with storage.run_commit(root, "2026-W47", Settings(run_id="r2")) as run_id:
    storage.write_table(root, "signals", "2026-W47", run_id, signals(5, run_id))
    open(marker, "w").close()
    time.sleep(120)  # killed here, between two table writes
    storage.write_table(root, "signals", "2026-W48", run_id, signals(5, run_id))
"""


def test_a_killed_publish_leaves_the_previous_run_visible(root, tmp_path):
    with storage.run_commit(root, WEEK, Settings(run_id="r1")) as run_id:
        storage.write_table(root, "signals", WEEK, run_id, signals(3, run_id))
    marker = tmp_path / "between-tables"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, root, str(marker)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the writer never reached the point between its two tables"
    proc.kill()
    proc.wait()
    assert f"signals/week={WEEK}/run=r2/part-00000.parquet" in objects(root)  # half a run is there ...
    assert storage.latest_run(root, "signals", WEEK) == "r1"  # ... but invisible
    assert storage.read_table(root, "signals", WEEK).num_rows == 3
    with storage.run_commit(root, WEEK, Settings(run_id="r3")):  # the next run takes the lock and cleans up
        pass
    assert not [o for o in objects(root) if "run=r2" in o]


def test_a_second_writer_of_the_week_is_refused(root):
    with storage.run_commit(root, WEEK, Settings(run_id="r1")):
        other = subprocess.run([sys.executable, "-c", "import sys; from jobs.common import storage; "
                                "from jobs.common.settings import Settings\n"
                                f"with storage.run_commit({root!r}, {WEEK!r}, Settings(run_id='x')): pass"],
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert other.returncode == 1 and "is being written by another run" in other.stderr.splitlines()[-1]


@pytest.mark.parametrize("bad", ["hdfs://namenode/warehouse", "s3:///nobucket", "file://otherhost/x"])
def test_an_unsupported_root_is_refused_before_anything_is_written(bad, tmp_path, s3_endpoint):
    before = objects("s3://warehouse")
    done = subprocess.run([sys.executable, "-c", "import sys; from jobs.cli import main; sys.exit(main())",
                           "-q", "tools", "--root", bad, "--week", WEEK], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and bad.split(":")[0] in lines[0], lines
    assert list(tmp_path.iterdir()) == [] and objects("s3://warehouse") == before


@pytest.mark.parametrize("bad", ["gs://bucket/x", "s3://", "s3://warehouse/x?secret=1", "http://127.0.0.1/x"])
def test_malformed_locations_are_one_line(bad):
    with pytest.raises(InputError, match=r"^location "):
        fs.resolve(bad)


def test_a_path_mangled_uri_is_repaired_and_a_missing_bucket_refused(s3_endpoint):
    assert fs.text(Path("s3://warehouse/a")) == "s3://warehouse/a"
    assert fs.text(Path("file:///tmp/x")) == "file:///tmp/x"
    with pytest.raises(InputError, match="bucket 'nosuchbucket' does not exist"):
        fs.check_writable("s3://nosuchbucket/x")


# ---------------------------------------------------------------- the S3 lock: a conditional create
def test_a_conditional_create_has_one_winner(root):
    location = f"{root}/_locks/week={WEEK}.lock"
    assert fs.create_once(location, b"first") is True
    assert fs.create_once(location, b"second") is False  # the store refused the overwrite (412)
    assert fs.read_text(location) == "first"


RACER = """
import os, sys, time
from pathlib import Path
from core.errors import InputError
from jobs.common import fs
location, start, attempts, racers = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
time.sleep(max(0.0, start - time.time()))
began = time.time()
try:
    with fs.lock(location, "the registry"):
        (attempts / str(os.getpid())).touch()
        print("won", f"{began - start:+.2f}")
        deadline = time.time() + 60  # held until every racer has tried: a late one cannot win after the release
        while len(os.listdir(attempts)) < racers and time.time() < deadline:
            time.sleep(0.05)
except InputError as exc:
    (attempts / str(os.getpid())).touch()
    sys.stderr.write(f"intentmine: error: {exc} (tried {began - start:+.2f} s after the start)\\n")
    sys.exit(2)
"""


def test_writers_racing_for_the_s3_lock_get_exactly_one_winner(root, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for attempt in range(3):
        location = f"{root}/_locks/registry-{attempt}.lock"
        attempts = tmp_path / str(attempt)
        attempts.mkdir()
        start = time.time() + 6  # every racer has imported and waits for the same instant
        racers = [subprocess.Popen([sys.executable, "-c", RACER, location, str(start), str(attempts), "3"], cwd=REPO,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for _ in range(3)]
        done = [(p.wait(90), *p.communicate()) for p in racers]
        winners = [d for d in done if d[0] == 0]
        losers = [d for d in done if d[0] != 0]
        assert len(winners) == 1 and winners[0][1].startswith("won"), done
        for code, _, err in losers:
            lines = err.strip().splitlines()
            assert code == 2 and len(lines) == 1 and "is being written by another run" in lines[0], err
        assert not fs.exists(location)  # the winner released it


SIGNED = """
import hashlib, sys
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import hmac
exec(sys.argv[1])  # jobs.common.fs._sigv4's source: moto's venv has botocore, not pyarrow
body = b'{"pid": 1}'
for path in ["/warehouse/a/_locks/week%3D2026-W47.lock", "/bucket-1/x%20y%3D1.lock"]:
    request = AWSRequest(method="PUT", url="http://127.0.0.1:9/" + path.lstrip("/"), data=body,
                         headers={"If-None-Match": "*"})
    S3SigV4Auth(Credentials("AKID", "SECRET", "TOKEN"), "s3", "eu-west-1").add_auth(request)
    headers = {"host": "127.0.0.1:9", "if-none-match": "*", "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
               "x-amz-date": request.headers["X-Amz-Date"], "x-amz-security-token": "TOKEN"}
    assert _sigv4("PUT", path, headers, "AKID", "SECRET", "eu-west-1") == request.headers["Authorization"], path
print("same")
"""


def test_the_lock_signature_is_botocores(s3_endpoint):
    """The conditional PUT is signed by our 30 lines of SigV4; botocore (moto's) must agree."""
    python = sys.executable if importlib.util.find_spec("botocore") else str(MOTO_VENV / "bin" / "python")
    done = subprocess.run([python, "-c", SIGNED, inspect.getsource(fs._sigv4)], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0 and done.stdout.strip() == "same", done.stderr[-2000:]


# ---------------------------------------------------------------- a full Python-side week on S3
CHAIN_QUERIES = 1500  # a demo-shaped week, smaller so the two chains take a few minutes


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
                               "TOKENIZERS_PARALLELISM": "false", "SPARK_LOCAL_IP": "127.0.0.1", **env})


@pytest.mark.slow
def test_every_python_side_stage_runs_on_s3_and_equals_a_local_root(s3_endpoint, tmp_path):
    """Sample runs locally (Spark has no s3a connector here) and its tables are copied to S3
    through the filesystem layer; cache → report then run with ``--root s3://…`` through the
    CLI, and every table, the registry and the ontology series equal the same chain on a local root."""
    logs, local, work, state = tmp_path / "logs", tmp_path / "local", tmp_path / "cwd", tmp_path / "state"
    work.mkdir()
    s3 = "s3://warehouse/full-chain"
    done = cli("generate-logs", "--out", str(logs), "--queries", str(CHAIN_QUERIES), cwd=work)
    assert done.returncode == 0, done.stderr[-2000:]
    done = cli("run", "--logs", str(logs), "--root", str(local), "--week", WEEK, "--to", "sample", cwd=work)
    assert done.returncode == 0, done.stderr[-2000:]
    assert fs.copy_tree(local, s3) > 0
    timings = {}
    for name, root in (("local", str(local)), ("s3", s3)):
        began = time.perf_counter()
        done = cli("run", "--logs", str(logs), "--root", root, "--week", WEEK, "--from", "cache", cwd=work,
                   INTENTMINE_STATE_DIR=str(state))
        timings[name] = time.perf_counter() - began
        assert done.returncode == 0, done.stderr[-3000:]
    print(f"cache → report: local root {timings['local']:.1f} s, s3 root {timings['s3']:.1f} s")

    same = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_warehouses.py"), str(local), s3],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert same.returncode == 0, same.stdout
    tables = ("samples", "cache_hits", "signals", "assignments", "clusters", "tools", "training_samples",
              "replay", "replay_tools")
    assert all(f"{t} week" not in same.stdout for t in tables) and " 0 difference(s)" in same.stdout
    counted = int(same.stdout.split("same: ")[1].split(" table-weeks")[0])
    assert counted >= len(tables)

    stored = objects(s3)
    run_id = storage.latest_run(s3, "tools", WEEK)
    for key in ("_registry/tools.json", "_registry/ontology/v0001.yaml", "_registry/tool_lists/v0001.parquet",
                f"_cache/query_photos/week={WEEK}.parquet", f"reports/week={WEEK}/run={run_id}/report.html",
                f"exports/sft/week={WEEK}/run={run_id}/training_samples.jsonl",
                f"exports/sft/week={WEEK}/run={run_id}/tools.json"):
        assert key in stored, key
    local_export = storage.export_path(local, WEEK, run_id)
    assert fs.read_bytes(storage.export_path(s3, WEEK, run_id)) == Path(local_export).read_bytes()
    assert "<html" in fs.read_text(storage.report_path(s3, WEEK, run_id)).lower()
    assert not [o for o in stored if o.startswith("_locks/") and fs.read_text(f"{s3}/{o}")]  # all released
    assert list(work.iterdir()) == []  # nothing landed in the working directory (no ./s3:/… folders)
    assert (state / "warehouse" / "full-chain" / "_cache" / "images").is_dir()  # the index: local state

    decided = cli("review", "--root", s3, "approve", "1", "--reviewer", "ann", "--decision-id", "d-1", cwd=work)
    assert decided.returncode == 0, decided.stderr
    listed = cli("review", "--root", s3, "list", "--json", cwd=work)
    assert listed.returncode == 0, listed.stderr
    first = next(r for r in json.loads(listed.stdout) if r["index"] == 1)
    assert first["pending_status"] == "approved", first
    assert any(o.startswith("review_decisions/") for o in objects(s3))
