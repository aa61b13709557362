"""The one filesystem layer (``pyarrow.fs``) under every warehouse file: local, ``file://``, ``s3://``.

A location is a string: a local path, ``file:///abs/path`` or ``s3://bucket/key``
(``s3a://`` is read as ``s3://``; the endpoint comes from ``AWS_ENDPOINT_URL`` or the
URI's ``endpoint_override``/``scheme`` query, credentials from the usual ``AWS_*``
variables). Anything else is refused with one line before anything is written.
Writes are atomic per file: locally written aside and renamed (``core.files``), on an
object store a single PUT, which readers see whole or not at all. Where there is no
rename, a multi-file publish is made atomic by writing its commit pointer last
(``jobs.common.storage``). :func:`lock` keeps single-writer state to one run at a time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pyarrow.fs as pafs

from core.errors import InputError
from core.files import atomic_path, located
from core.files import write_bytes as write_local_bytes

SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")
S3_OPTIONS = {"endpoint_override", "scheme", "region"}


def text(location: Path | str) -> str:
    """The location as a string; repairs ``s3:/b/k`` (a URI that went through ``pathlib``)."""
    value = str(location)
    match = SCHEME.match(value)
    if match and not value.startswith(f"{match[1]}://"):
        rest = value[len(match[0]):]
        value = f"{match[1]}:///{rest}" if match[1].lower() == "file" else f"{match[1]}://{rest}"
    return value


def is_local(location: Path | str) -> bool:
    return scheme(location) in ("", "file")


def scheme(location: Path | str) -> str:
    match = SCHEME.match(text(location))
    return match[1].lower() if match and "://" in text(location) else ""


def resolve(location: Path | str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) of a location; InputError for anything unsupported."""
    value = text(location)
    kind = scheme(value)
    if kind == "":
        return pafs.LocalFileSystem(), os.path.abspath(value)
    parts = urlsplit(value)
    if kind == "file":
        if parts.netloc not in ("", "localhost") or parts.query or not parts.path.startswith("/"):
            raise InputError(f"location {value}: a file:// URI needs an absolute path and no host (file:///data/x)")
        return pafs.LocalFileSystem(), unquote(parts.path).rstrip("/") or "/"
    if kind in ("s3", "s3a"):
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", parts.netloc or "") or set(query) - S3_OPTIONS:
            raise InputError(f"location {value}: expected s3://bucket/prefix (options: {', '.join(sorted(S3_OPTIONS))})")
        return _s3(tuple(sorted(query.items()))), (parts.netloc + unquote(parts.path)).rstrip("/")
    raise InputError(f"location {value}: unsupported scheme '{kind}://' (expected a local path, file:// or s3://)")


@functools.lru_cache(maxsize=8)
def _s3(options: tuple[tuple[str, str], ...]) -> pafs.S3FileSystem:
    given = dict(options)
    endpoint = given.get("endpoint_override") or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint and "://" in endpoint:
        given.setdefault("scheme", endpoint.split("://", 1)[0])
        endpoint = endpoint.split("://", 1)[1]
    return pafs.S3FileSystem(endpoint_override=endpoint, scheme=given.get("scheme", "https"),
                             region=given.get("region") or os.environ.get("AWS_REGION", "us-east-1"),
                             allow_bucket_creation=False, allow_bucket_deletion=False)


def join(location: Path | str, *parts: str) -> Path | str:
    """A child location: a Path for local roots (as before), a URI string otherwise."""
    if scheme(location) == "":
        return Path(location).joinpath(*parts)
    if scheme(location) == "file":
        return Path(resolve(location)[1]).joinpath(*parts)
    base = text(location)
    base, _, query = base.partition("?")
    child = "/".join([base.rstrip("/"), *parts])
    return f"{child}?{query}" if query else child


def sibling(location: Path | str, name: str) -> Path | str:
    """The location of ``name`` in the same folder as ``location``."""
    if scheme(location) == "":
        return Path(location).with_name(name)
    if scheme(location) == "file":
        return Path(resolve(location)[1]).with_name(name)
    base, _, query = text(location).partition("?")
    child = f"{base.rstrip('/').rsplit('/', 1)[0]}/{name}"
    return f"{child}?{query}" if query else child


def spark_location(location: Path | str) -> str:
    """The Hadoop path Spark writes to: an absolute local path, or ``s3a://bucket/key``."""
    if is_local(location):
        return resolve(location)[1]
    fs, path = resolve(location)
    return f"s3a://{path}"


def exists(location: Path | str) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def is_dir(location: Path | str) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type == pafs.FileType.Directory


def names(location: Path | str) -> list[str]:
    """Names of the entries directly under a folder (empty when there is none)."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos)


def read_bytes(location: Path | str) -> bytes | None:
    """The file's content, or None when it does not exist."""
    fs, path = resolve(location)
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_text(location: Path | str) -> str | None:
    data = read_bytes(location)
    return None if data is None else data.decode("utf-8")


def write_bytes(location: Path | str, data: bytes) -> Path | str:
    """Replace the file whole: aside-and-rename locally, one PUT on an object store."""
    if is_local(location):
        write_local_bytes(resolve(location)[1], data)
        return location
    fs, path = resolve(location)
    with fs.open_output_stream(path) as stream:
        stream.write(data)
    return location


def write_text(location: Path | str, value: str) -> Path | str:
    return write_bytes(location, value.encode("utf-8"))


def write_parquet(location: Path | str, table, **options) -> Path | str:
    """Replace one Parquet file whole: aside-and-rename locally, one object on a store."""
    import pyarrow.parquet as pq

    if is_local(location):
        with atomic_path(resolve(location)[1]) as tmp:
            pq.write_table(table, tmp, **options)
        return location
    filesystem, path = resolve(location)
    pq.write_table(table, path, filesystem=filesystem, **options)
    return location


@contextlib.contextmanager
def open_write(location: Path | str, mode: str = "w") -> Iterator:
    """A file handle whose content replaces ``location`` whole when the block ends without error.

    Written aside locally (then renamed); for an object store written to a local temporary
    file, then uploaded as one object, so a failure mid-way publishes nothing.
    """
    encoding = None if "b" in mode else "utf-8"
    if is_local(location):
        with atomic_path(resolve(location)[1]) as tmp, open(tmp, mode, encoding=encoding) as handle:
            yield handle
        return
    import tempfile

    filesystem, path = resolve(location)
    with tempfile.TemporaryDirectory(prefix="intentmine-") as folder:
        local = Path(folder) / "upload"
        with open(local, mode, encoding=encoding) as handle:
            yield handle
        pafs.copy_files(str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=filesystem)


def read_parquet(location: Path | str, columns: list[str] | None = None):
    """One Parquet file, or None when it does not exist."""
    import pyarrow.parquet as pq

    filesystem, path = resolve(location)
    if filesystem.get_file_info(path).type != pafs.FileType.File:
        return None
    return pq.read_table(path, filesystem=filesystem, columns=columns)


@contextlib.contextmanager
def local_copy(location: Path | str) -> Iterator[Path]:
    """A local file path holding the location's content (itself when local), for readers that want one."""
    if is_local(location):
        yield Path(resolve(location)[1])
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="intentmine-") as tmp:
        local = Path(tmp) / text(location).split("?", 1)[0].rsplit("/", 1)[-1]
        local.write_bytes(read_bytes(location) or b"")
        yield local


def copy_tree(source: Path | str, target: Path | str) -> int:
    """Copy every file under ``source`` to ``target`` (any two locations); returns how many."""
    src_fs, src = resolve(source)
    files = [i for i in src_fs.get_file_info(pafs.FileSelector(src, recursive=True, allow_not_found=True))
             if i.type == pafs.FileType.File]
    for info in files:
        write_bytes(join(target, *info.path.removeprefix(src + "/").split("/")), _read(src_fs, info.path))
    return len(files)


def _read(filesystem: pafs.FileSystem, path: str) -> bytes:
    with filesystem.open_input_stream(path) as stream:
        return stream.read()


def remove(location: Path | str) -> None:
    """Delete a file or a folder with everything in it; nothing when it is absent."""
    fs, path = resolve(location)
    kind = fs.get_file_info(path).type
    if kind == pafs.FileType.Directory:
        fs.delete_dir(path)
    elif kind == pafs.FileType.File:
        fs.delete_file(path)


def check_writable(location: Path | str) -> None:
    """Refuse a root that is a file, or an object store bucket that is not there, in one line."""
    fs, path = resolve(location)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise InputError(f"root {text(location)} is a file, not a folder")
    if not is_local(location):
        bucket = path.split("/", 1)[0]
        try:
            found = fs.get_file_info(bucket).type
        except OSError as exc:
            raise InputError(f"root {text(location)}: cannot reach the object store ({str(exc).splitlines()[0]})") from None
        if found == pafs.FileType.NotFound:
            raise InputError(f"root {text(location)}: bucket '{bucket}' does not exist")


# ---------------------------------------------------------------- locks
@contextlib.contextmanager
def lock(location: Path | str, what: str, wait: bool = False) -> Iterator[None]:
    """Hold ``location`` (a lock file) for one writer; a second one gets one InputError line.

    Locally an ``fcntl`` lock, released by the kernel when the holder dies (``wait``: a
    second writer waits its turn instead); on an object store a lock object naming its
    owner, created with a conditional PUT (:func:`create_once`), taken over when that
    owner (same host) is gone; a second writer there is always refused.
    """
    if is_local(location):
        import fcntl

        path = Path(resolve(location)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                handle.seek(0)
                raise InputError(f"{what} is being written by another run ({handle.read().strip() or 'unknown'}); "
                                 f"try again when it has finished") from None
            handle.seek(0)
            handle.truncate()
            try:  # unbuffered, so a full disk fails here and not again at close
                os.write(handle.fileno(), _owner().encode())
            except OSError as exc:  # a full disk: name the lock file
                raise located(exc, path) from None
            try:
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    held = read_text(location)
    if held and _alive(held):
        raise InputError(f"{what} is being written by another run ({held}); try again when it has finished, "
                         f"or delete {text(location)} if that run is gone")
    if held is not None:  # empty (a released local lock, copied) or its owner (this host) is gone
        remove(location)
    mine = _owner()
    created = create_once(location, mine.encode())
    if created is None:  # no credentials in the environment to sign a conditional PUT: best effort
        write_text(location, mine)
        created = read_text(location) == mine
    if not created:
        raise InputError(f"{what} is being written by another run ({read_text(location) or 'unknown'}); "
                         f"try again when it has finished")
    try:
        yield
    finally:
        if read_text(location) == mine:
            remove(location)


def create_once(location: Path | str, data: bytes) -> bool | None:
    """Create an object only if no object has its key: one PUT with ``If-None-Match: *``.

    True when this call created it, False when the key existed (HTTP 412, or 409 for a
    concurrent conditional write). The store decides, so of writers racing for a key
    exactly one wins. None when the request cannot be signed here (credentials not in
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``). Object stores only.
    """
    import httpx

    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    url, host, region = _object_url(location)
    headers = {"host": host, "if-none-match": "*", "x-amz-content-sha256": hashlib.sha256(data).hexdigest(),
               "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}
    if os.environ.get("AWS_SESSION_TOKEN"):
        headers["x-amz-security-token"] = os.environ["AWS_SESSION_TOKEN"]
    headers["authorization"] = _sigv4("PUT", urlsplit(url).path, headers, key, secret, region)
    response = httpx.put(url, content=data, headers=headers, timeout=30)
    if response.status_code in (412, 409):
        return False
    if response.status_code >= 300:
        raise OSError(f"conditional PUT of {text(location)}: HTTP {response.status_code} {response.text[:200]}")
    return True


def _object_url(location: Path | str) -> tuple[str, str, str]:
    """(path-style URL with the key percent-encoded, host, region) of an S3 location."""
    filesystem, path = resolve(location)
    query = {k: v[-1] for k, v in parse_qs(urlsplit(text(location)).query).items()}
    endpoint = query.get("endpoint_override") or os.environ.get("AWS_ENDPOINT_URL") or ""
    kind = query.get("scheme") or (endpoint.split("://", 1)[0] if "://" in endpoint else "https")
    region = query.get("region") or os.environ.get("AWS_REGION", "us-east-1")
    host = endpoint.split("://", 1)[-1].rstrip("/") or f"s3.{region}.amazonaws.com"
    return f"{kind}://{host}/{quote(path, safe='/-_.~')}", host, region


def _sigv4(method: str, path: str, headers: dict[str, str], key: str, secret: str, region: str) -> str:
    """The AWS Signature Version 4 ``Authorization`` header of a request without a query string."""
    stamp = headers["x-amz-date"]
    names = sorted(headers)
    canonical = "\n".join([method, path, "", *(f"{n}:{headers[n].strip()}" for n in names), "",
                           ";".join(names), headers["x-amz-content-sha256"]])
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing = f"AWS4{secret}".encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"


def _owner() -> str:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": round(time.time())})


def _alive(owner: str) -> bool:
    """Whether a lock's owner may still run: another host's is assumed alive."""
    try:
        info = json.loads(owner)
    except ValueError:
        return False
    if info.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(info["pid"]), 0)
        return True
    except (ProcessLookupError, ValueError, KeyError):
        return False
    except PermissionError:
        return True
