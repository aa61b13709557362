"""Image I/O for every stage that reads photos (sample, cache, analyse): one place.

An ``image_uri`` comes from the logs, so it is untrusted. :class:`ImagePolicy` says where
photos may be read from and how much of one may be read:

- :func:`locate`: the location is resolved strictly inside the configured image roots (the
  logs folder, plus ``sample.image_roots``): no ``..`` segment, no scheme (``file://``,
  ``s3://``, ``http://``...) unless a configured root is itself such a URI and the location
  lies under it, no query string, no symlink that leads out (the path is resolved, then checked);
- :func:`read_bytes`: regular files only (no device, FIFO or directory), read in chunks with
  the byte cap (``max_bytes``) and the deadline (``timeout_s``) checked between chunks, so a
  slow source stops at the deadline; a remote store's calls also run under the deadline in a
  thread (one call can block on the network);
- :func:`decode`: only common photo formats, and the pixel count checked on the header
  (``max_pixels``) before any pixel is decoded, so a decompression bomb costs nothing;
  :func:`decode_all` decodes many, reading the next ones in threads meanwhile (``read_ahead``).

A refusal is :class:`ImageRejected` with one of :data:`IMAGE_REASONS`; the sample stage turns
it into a per-row quarantine reason. :func:`load_rgb` (cache and analyse, which read only what
sample accepted) turns it into an :class:`InputError` naming the owner and the file.
:func:`grey_scores` are the pixel measures of image quality, :func:`median_colour` the median
colour of a region; :func:`data_uri` is for prompts;
"""

from __future__ import annotations

import base64
import io
import os
import re
import stat
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from core.errors import InputError

IMAGE_REASONS = ("image_path_outside_root", "image_not_regular_file", "image_too_large",
                 "image_too_many_pixels", "image_timeout", "image_unreadable")
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # photo formats; no exotic decoders
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")  # "<_io.BytesIO object at 0x7f...>"
CHUNK = 1 << 18  # bytes per read call; the deadline and the cap are checked between calls


class ImageRejected(Exception):
    """An image that is not read: ``reason`` is one of :data:`IMAGE_REASONS`."""

    def __init__(self, reason: str, detail: str):
        assert reason in IMAGE_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class ImagePolicy:
    """Where photos may be read from (the first root resolves relative URIs) and the caps."""

    roots: tuple[str, ...]
    max_bytes: int = 20_000_000
    max_pixels: int = 50_000_000
    timeout_s: float = 10.0
    read_ahead: int = 16  # files read concurrently by decode_all (at most this many times max_bytes held)


def image_policy(logs: Path | str, settings=None) -> ImagePolicy:
    """The policy for a run: the logs folder first, then ``settings.sample.image_roots``."""
    if settings is None:
        return ImagePolicy(roots=(str(logs),))
    s = settings.sample
    return ImagePolicy(roots=(str(logs), *s.image_roots), max_bytes=s.max_image_bytes,
                       max_pixels=s.max_image_pixels, timeout_s=s.image_timeout_s,
                       read_ahead=s.image_read_ahead)


def _as_policy(source: ImagePolicy | Path | str) -> ImagePolicy:
    return source if isinstance(source, ImagePolicy) else ImagePolicy(roots=(str(source),))


def _is_uri(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


@lru_cache(maxsize=64)
def _local(root: str) -> str:
    """A local root, resolved (once per process: a root is configuration, not log content)."""
    return os.path.realpath(root.removeprefix("file://"))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def locate(policy: ImagePolicy, uri: str) -> str:
    """Where to read ``uri``: a resolved local path or a URI under a URI root; else ImageRejected."""
    if not isinstance(uri, str) or not uri.strip():
        raise ImageRejected("image_unreadable", "empty image location")
    if _CONTROL.search(uri) or "\\" in uri:
        raise ImageRejected("image_path_outside_root", "control character or backslash in the location")
    if ".." in uri.split("/"):
        raise ImageRejected("image_path_outside_root", "'..' in the location")
    if _SCHEME.match(uri):
        for root in policy.roots:
            base, _, query = root.partition("?")
            base = base.rstrip("/") + "/"
            if _is_uri(root) and uri.startswith(base) and not set("?#%") & set(uri[len(base):]):
                return uri + (f"?{query}" if query else "")
        raise ImageRejected("image_path_outside_root", f"scheme '{uri.split(':')[0]}' is not an image root")
    first = policy.roots[0]
    if _is_uri(first) and not uri.startswith("/"):
        if set("?#%") & set(uri):
            raise ImageRejected("image_path_outside_root", "query or escape in the location")
        base, _, query = first.partition("?")
        return f"{base.rstrip('/')}/{uri}" + (f"?{query}" if query else "")
    candidate = uri if uri.startswith("/") else os.path.join(_local(first), uri)
    resolved = os.path.realpath(candidate)
    if not any(_inside(resolved, _local(r)) for r in policy.roots if not _is_uri(r)):
        raise ImageRejected("image_path_outside_root", "resolves outside the image roots")
    return resolved


def read_chunks(read, max_bytes: int, deadline: float) -> bytes:
    """Everything ``read(n)`` returns until it returns nothing, within the cap and the deadline.

    ``deadline`` is a ``time.monotonic()`` value, checked before and after every call, so a
    source that trickles stops at the deadline (``image_timeout``) and one that never ends
    stops at ``max_bytes`` (``image_too_large``); one call that blocks is not interrupted.
    """
    parts, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise ImageRejected("image_timeout", f"read not finished in time ({size:,} bytes read)")
        chunk = read(min(CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise ImageRejected("image_too_large", f"more than {max_bytes:,} bytes")


def _read_local(path: str, max_bytes: int, deadline: float) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise ImageRejected("image_unreadable", "image file not found") from None
    except OSError as exc:
        raise ImageRejected("image_unreadable", f"cannot open ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageRejected("image_not_regular_file", "not a regular file")
        if info.st_size > max_bytes:
            raise ImageRejected("image_too_large", f"{info.st_size:,} bytes (max {max_bytes:,})")
        return read_chunks(lambda n: os.read(fd, n), max_bytes, deadline)
    finally:
        os.close(fd)


def _read_remote(location: str, max_bytes: int, deadline: float) -> bytes:
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(location)
        info = filesystem.get_file_info(path)
        if info.type == fs.FileType.NotFound:
            raise ImageRejected("image_unreadable", "image file not found")
        if info.type != fs.FileType.File:
            raise ImageRejected("image_not_regular_file", "not a regular file")
        if info.size is not None and info.size > max_bytes:
            raise ImageRejected("image_too_large", f"{info.size:,} bytes (max {max_bytes:,})")
        with filesystem.open_input_stream(path) as handle:
            return read_chunks(handle.read, max_bytes, deadline)
    except (OSError, ValueError) as exc:
        raise ImageRejected("image_unreadable", f"cannot read ({type(exc).__name__})") from None


def read_bytes(policy: ImagePolicy, uri: str) -> bytes:
    """The bytes of the image at ``uri`` under the policy, read within ``timeout_s``.

    A local file is read here, chunk by chunk. A remote one is read in a thread joined
    with the deadline: a network call that hangs (a store that accepts and never answers)
    cannot be interrupted from Python, so that thread is left to end on its own.
    """
    location = locate(policy, uri)
    deadline = time.monotonic() + policy.timeout_s
    if "://" not in location:
        return _read_local(location, policy.max_bytes, deadline)
    outcome: dict = {}

    def work():
        try:
            outcome["value"] = _read_remote(location, policy.max_bytes, deadline)
        except ImageRejected as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True, name="image-read")
    thread.start()
    thread.join(policy.timeout_s)
    if thread.is_alive():
        raise ImageRejected("image_timeout", f"no answer from the store within {policy.timeout_s:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image, opened (header only), with its pixel count checked before any decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our cap decides
        try:
            img = Image.open(io.BytesIO(data), formats=FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageRejected("image_too_many_pixels", _clean(str(exc))) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageRejected("image_unreadable", f"undecodable image ({type(exc).__name__})") from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise ImageRejected("image_too_many_pixels", f"{width}x{height} px (max {max_pixels:,} pixels)")
    return img


def _decode(policy: ImagePolicy, data: bytes, mode: str, max_side: int) -> tuple[Image.Image, tuple[int, int]]:
    img = _open(data, policy.max_pixels)
    size = img.size
    try:
        with img:
            img.draft(mode, (max_side, max_side))  # JPEG: decode at a reduced scale
            out = img.convert(mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected("image_unreadable", f"undecodable image ({type(exc).__name__}: "
                                                f"{_clean(str(exc))[:80]})") from None
    if max(out.size) > max_side:
        out.thumbnail((max_side, max_side))
    return out, size


def decode(policy: ImagePolicy | Path | str, uri: str, mode: str, max_side: int
           ) -> tuple[Image.Image, tuple[int, int]]:
    """``uri`` decoded to ``mode`` and shrunk to ``max_side``, and its stored (width, height).

    The read is bounded in time and bytes (:func:`read_bytes`); the decode is bounded by
    the pixel cap, checked on the header, so its cost is known before it starts.
    """
    policy = _as_policy(policy)
    return _guarded(lambda: _decode(policy, read_bytes(policy, uri), mode, max_side))


def _guarded(work):
    """``work()``, with any failure but a refusal turned into ``image_unreadable``."""
    try:
        return work()
    except ImageRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader or decoder failure is a bad image
        raise ImageRejected("image_unreadable", f"{type(exc).__name__}") from None


def decoded_or_refusal(policy: ImagePolicy, uri: str, mode: str, max_side: int
                       ) -> tuple[Image.Image, tuple[int, int]] | ImageRejected:
    """:func:`decode` of ``uri``, with a refusal returned as a value (as :func:`decode_all` gives it)."""
    return _as_value(lambda: decode(policy, uri, mode, max_side))


def _as_value(work):
    """``work()`` under :func:`_guarded`, a refusal returned instead of raised."""
    try:
        return _guarded(work)
    except ImageRejected as exc:
        return exc


def decode_all(policy: ImagePolicy, uris: Iterable[str], mode: str, max_side: int
               ) -> Iterator[tuple[Image.Image, tuple[int, int]] | ImageRejected]:
    """:func:`decode` of each of ``uris``, in order: the result, or the refusal as a value.

    While one photo decodes, the next ``policy.read_ahead`` files are read in threads
    (each under :func:`read_bytes`' caps), so a cold disk or a remote store's latency
    overlaps the decoding: photos of a 1 M-event week read cold from this machine's disk
    came at about 400/s one at a time and about 570/s with 16 ahead. At most ``read_ahead`` files
    (each at most ``max_bytes``) are held at once.
    """
    def read(uri):
        return _as_value(lambda: read_bytes(policy, uri))

    def decoded(data):
        return data if isinstance(data, ImageRejected) else _as_value(lambda: _decode(policy, data, mode, max_side))

    with ThreadPoolExecutor(policy.read_ahead, thread_name_prefix="image-read") as pool:
        pending: deque = deque()
        for uri in uris:
            pending.append(pool.submit(read, uri))
            if len(pending) >= policy.read_ahead:
                yield decoded(pending.popleft().result())
        while pending:
            yield decoded(pending.popleft().result())


def _clean(text: str) -> str:
    """An error message without object reprs (their addresses differ between runs)."""
    return _REPR.sub("<data>", text)


def grey_scores(grey: np.ndarray) -> tuple[float, float, float]:
    """(variance of the Laplacian, mean, standard deviation) of a 2-D grey image."""
    grey = grey.astype(np.float32)
    if min(grey.shape) < 3:
        laplacian_var = 0.0
    else:
        laplacian = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
                     - 4.0 * grey[1:-1, 1:-1])
        laplacian_var = float(laplacian.var())
    return laplacian_var, float(grey.mean()), float(grey.std())


def median_colour(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The per-channel median of the 8-bit ``rgb`` pixels under ``mask`` (float32, 3 values).

    Exactly ``np.median(rgb.astype(np.float32)[mask], axis=0)`` (the middle level, or the
    mean of the two middle levels), from one histogram of the levels instead of gathering
    and partitioning the pixels: a quarter of the time on a 96 px photo.
    """
    n = int(mask.sum())
    if n == 0:
        raise ValueError("median_colour: the mask selects no pixel")
    levels = rgb.reshape(-1, 3).astype(np.intp) + np.array([0, 256, 512])
    levels += (768 * mask.reshape(-1, 1)).astype(np.intp)
    counts = np.bincount(levels.ravel(), minlength=1536)[768:].reshape(3, 256).cumsum(1)
    low = (counts > (n - 1) // 2).argmax(1).astype(np.float32)  # first level past the middle rank(s)
    high = (counts > n // 2).argmax(1).astype(np.float32)
    return (low + high) / np.float32(2)


def load_rgb(logs: ImagePolicy | Path | str, uri: str, max_side: int, owner: str) -> Image.Image:
    """The image at ``uri`` as RGB, shrunk to ``max_side``; a refusal is an InputError.

    The sample stage already quarantined unreadable photos, so here a refusal means the
    logs changed under the run, and the run stops instead of analysing a blank picture.
    """
    try:
        return decode(logs, uri, "RGB", max_side)[0]
    except ImageRejected as exc:
        raise _refused(owner, uri, exc) from None


def _refused(owner: str, uri: str, exc: ImageRejected) -> InputError:
    return InputError(f"{owner}: image {uri!r} refused ({exc.reason}: {exc.detail})")


def load_rgb_all(policy: ImagePolicy, uris: list[str], max_side: int, owners: list[str]) -> Iterator[Image.Image]:
    """:func:`load_rgb` of each of ``uris`` (``owners`` name them in errors), read ahead (:func:`decode_all`)."""
    for uri, owner, outcome in zip(uris, owners, decode_all(policy, uris, "RGB", max_side)):
        if isinstance(outcome, ImageRejected):
            raise _refused(owner, uri, outcome)
        yield outcome[0]


def data_uri(img: Image.Image, max_side: int) -> str:
    """A ``data:`` URI (JPEG) of ``img`` with its longest side at most ``max_side``."""
    img = img.copy()
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
