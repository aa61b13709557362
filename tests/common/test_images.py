"""Untrusted image locations and files: every hostile case is refused with its reason, fast."""

from __future__ import annotations

import http.server
import os
import threading
import time
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from jobs.common.images import ImagePolicy, ImageRejected, decode, load_rgb, locate


def bomb_png(width: int, height: int) -> bytes:
    """A real, complete PNG of zeros (compresses ~1000:1)."""
    compressor = zlib.compressobj(9)
    row = b"\0" + bytes(width)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


@pytest.fixture
def logs(tmp_path):
    root = tmp_path / "logs"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)).save(root / "images" / "ok.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (80, 80), "red").save(outside / "secret.png")
    (root / "images" / "link.png").symlink_to(outside / "secret.png")
    (root / "images" / "inner-link.png").symlink_to(root / "images" / "ok.png")
    return root


def reason(policy, uri) -> str:
    with pytest.raises(ImageRejected) as caught:
        decode(policy, uri, "L", 64)
    return caught.value.reason


def test_an_image_inside_the_root_is_read(logs):
    policy = ImagePolicy(roots=(str(logs),))
    img, size = decode(policy, "images/ok.png", "L", 64)
    assert size == (80, 80) and max(img.size) == 64
    assert decode(policy, "images/inner-link.png", "L", 64)[1] == (80, 80)  # a link that stays inside
    assert decode(policy, str(logs / "images" / "ok.png"), "L", 64)[1] == (80, 80)  # absolute, inside


@pytest.mark.parametrize("uri", [
    "../outside/secret.png", "images/../../outside/secret.png", "../../../../../../etc/passwd",
    "/etc/passwd", "../../../../dev/zero", "/dev/zero", "file:///etc/passwd",
    "s3://bucket/x.png?endpoint_override=127.0.0.1:18766&scheme=http", "gs://bucket/x.png",
    "http://127.0.0.1:18766/x.png", "hdfs://namenode/x.png", "images/ok.png\x00.jpg",
    "images\\..\\..\\outside\\secret.png", "images/link.png",
])
def test_hostile_locations_are_refused_before_any_read(logs, uri):
    policy = ImagePolicy(roots=(str(logs),))
    began = time.perf_counter()
    assert reason(policy, uri) == "image_path_outside_root"
    assert time.perf_counter() - began < 1.0  # nothing was fetched or waited for


def test_no_request_leaves_for_an_endpoint_override(logs):
    """The SSRF case: a listening server sees no request for an s3:// location with an endpoint."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()
        do_GET = do_HEAD  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        policy = ImagePolicy(roots=(str(logs),))
        assert reason(policy, f"s3://bucket/x.png?endpoint_override=127.0.0.1:{port}&scheme=http") \
            == "image_path_outside_root"
        assert reason(policy, f"http://127.0.0.1:{port}/x.png") == "image_path_outside_root"
    finally:
        server.shutdown()
    assert seen == []


def test_a_uri_root_allows_only_locations_under_it():
    policy = ImagePolicy(roots=("/data/logs", "s3://photos/prefix?region=eu-west-1"))
    assert locate(policy, "s3://photos/prefix/a/b.png") == "s3://photos/prefix/a/b.png?region=eu-west-1"
    for uri in ("s3://photos/other/b.png", "s3://photos/prefix/b.png?endpoint_override=evil",
                "s3://photos/prefix/%2e%2e/x.png", "s3://photos/prefix/../x.png", "s3://photos/prefixed/x.png"):
        with pytest.raises(ImageRejected, match="image_path_outside_root"):
            locate(policy, uri)


def test_device_files_and_fifos_are_not_read(logs):
    fifo = logs / "images" / "pipe.png"
    os.mkfifo(fifo)
    (logs / "images" / "folder.png").mkdir()
    policy = ImagePolicy(roots=(str(logs),), timeout_s=2)
    began = time.perf_counter()
    assert reason(policy, "images/pipe.png") == "image_not_regular_file"  # no blocking open
    assert reason(policy, "images/folder.png") == "image_not_regular_file"
    assert reason(ImagePolicy(roots=("/dev",)), "/dev/zero") == "image_not_regular_file"
    assert time.perf_counter() - began < 2.0


def test_a_file_above_the_byte_cap_is_not_read(logs):
    (logs / "images" / "big.png").write_bytes(b"\0" * 5000)
    assert reason(ImagePolicy(roots=(str(logs),), max_bytes=4096), "images/big.png") == "image_too_large"


def test_decompression_bombs_are_refused_on_the_header(logs):
    """20000x20000 (over Pillow's own error limit) and 12000x12000 (under it, over ours)."""
    for side in (20000, 12000):
        path = logs / "images" / f"bomb{side}.png"
        path.write_bytes(bomb_png(side, side))
        assert path.stat().st_size < 600_000
        began = time.perf_counter()
        assert reason(ImagePolicy(roots=(str(logs),)), f"images/bomb{side}.png") == "image_too_many_pixels"
        assert time.perf_counter() - began < 2.0  # decided on the header, nothing decoded


def test_truncated_and_fake_images_are_unreadable_without_object_reprs(logs):
    data = (logs / "images" / "ok.png").read_bytes()
    (logs / "images" / "cut.png").write_bytes(data[: len(data) // 2])
    (logs / "images" / "text.png").write_bytes(b"not a png at all")
    policy = ImagePolicy(roots=(str(logs),))
    for uri in ("images/cut.png", "images/text.png", "images/missing.png"):
        with pytest.raises(ImageRejected) as caught:
            decode(policy, uri, "L", 64)
        assert caught.value.reason == "image_unreadable"
        assert " at 0x" not in caught.value.detail and "BytesIO" not in caught.value.detail


def test_a_slow_image_times_out(logs, monkeypatch):
    """A stalled store cannot be made locally: the reader is replaced by one that sleeps (a fake)."""
    import jobs.common.images as images

    def stalled(*args):
        time.sleep(5)
        return b""

    monkeypatch.setattr(images, "_read_local", stalled)
    began = time.perf_counter()
    assert reason(ImagePolicy(roots=(str(logs),), timeout_s=0.5), "images/ok.png") == "image_timeout"
    assert time.perf_counter() - began < 2.0


def test_load_rgb_turns_a_refusal_into_one_input_error(logs):
    with pytest.raises(InputError, match=r"query q1: image '../outside/secret.png' refused \(image_path_outside_root"):
        load_rgb(logs, "../outside/secret.png", 64, "query q1")
    assert load_rgb(logs, "images/ok.png", 32, "query q1").size == (32, 32)
