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
from jobs.common.images import (ImagePolicy, ImageRejected, decode, decode_all, load_rgb, locate, median_colour,
                                read_chunks)


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


def test_decode_all_gives_what_decode_gives_in_order_with_refusals_as_values(logs):
    """Reads run ahead in threads; the outcomes still come in the order asked, one per location."""
    rng = np.random.default_rng(1)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(logs / "images" / f"p{i}.png")
    (logs / "images" / "bad.png").write_bytes(b"not a png")
    uris = [f"images/p{i}.png" for i in range(12)] + ["images/bad.png", "../outside/secret.png",
                                                      "images/missing.png", "images/p3.png"]
    rng.shuffle(uris)
    policy = ImagePolicy(roots=(str(logs),), read_ahead=3)
    got = list(decode_all(policy, uris, "L", 24))
    assert len(got) == len(uris)
    for uri, outcome in zip(uris, got):
        try:
            img, size = decode(policy, uri, "L", 24)
        except ImageRejected as exc:
            assert isinstance(outcome, ImageRejected) and (outcome.reason, outcome.detail) == (exc.reason, exc.detail)
            continue
        assert outcome[1] == size and np.array_equal(np.asarray(outcome[0]), np.asarray(img))


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


def test_a_trickling_source_stops_at_the_deadline():
    """A source that never ends but sends 1 KiB every 20 ms (a stalled stream; a fake source
    for the real chunk loop): the read gives up at the deadline, not when the source ends."""
    calls = []

    def trickle(n):
        calls.append(n)
        time.sleep(0.02)
        return b"x" * min(n, 1024)

    began = time.perf_counter()
    with pytest.raises(ImageRejected) as caught:
        read_chunks(trickle, 20_000_000, time.monotonic() + 0.5)
    assert caught.value.reason == "image_timeout"
    assert 0.5 <= time.perf_counter() - began < 1.5  # stopped at the deadline, the source never ended
    assert len(calls) >= 2


def test_an_endless_source_stops_at_the_byte_cap():
    """``/dev/zero`` behind a regular-file check: never more than the cap plus one byte is read."""
    with open("/dev/zero", "rb", buffering=0) as zero:
        read = []
        with pytest.raises(ImageRejected, match="image_too_large"):
            read_chunks(lambda n: read.append(n) or zero.read(n), 1_000_000, time.monotonic() + 10)
    assert sum(read) == 1_000_001


def test_a_local_read_is_under_the_deadline(logs):
    assert reason(ImagePolicy(roots=(str(logs),), timeout_s=0), "images/ok.png") == "image_timeout"
    assert decode(ImagePolicy(roots=(str(logs),), timeout_s=5), "images/ok.png", "L", 64)[1] == (80, 80)


def test_a_store_that_trickles_its_answer_times_out(logs, monkeypatch):
    """A real S3 read (pyarrow) from a local server that answers HEAD and then sends the
    object's bytes one every 50 ms: ``image_timeout`` at the deadline, not after 100 s."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    size = 2000
    stop = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            self.do_HEAD()
            for _ in range(size):
                if stop.is_set():
                    return
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"s3://photos/prefix?endpoint_override=127.0.0.1:{server.server_address[1]}&scheme=http"
    try:
        began = time.perf_counter()
        assert reason(ImagePolicy(roots=(root,), timeout_s=1.0), "s3://photos/prefix/x.png") == "image_timeout"
        assert time.perf_counter() - began < 1.5
    finally:
        stop.set()
        server.shutdown()


def test_load_rgb_turns_a_refusal_into_one_input_error(logs):
    with pytest.raises(InputError, match=r"query q1: image '../outside/secret.png' refused \(image_path_outside_root"):
        load_rgb(logs, "../outside/secret.png", 64, "query q1")
    assert load_rgb(logs, "images/ok.png", 32, "query q1").size == (32, 32)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (7, 9), (96, 96)])
def test_median_colour_is_numpys_median_of_the_masked_pixels(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for _ in range(50):
        rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        if rng.random() < 0.5:  # few levels, so the middle ranks often fall on ties
            rgb = (rgb // 64 * 64).astype(np.uint8)
        mask = rng.random(shape) < rng.uniform(0.05, 1.0)
        mask.flat[rng.integers(mask.size)] = True
        got = median_colour(rgb, mask)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.median(rgb.astype(np.float32)[mask], axis=0))


def test_median_colour_of_an_even_count_is_the_mean_of_the_two_middle_levels():
    rgb = np.array([[[0, 10, 255], [3, 11, 0]]], np.uint8)
    np.testing.assert_array_equal(median_colour(rgb, np.ones((1, 2), bool)), [1.5, 10.5, 127.5])


def test_median_colour_of_an_empty_mask_is_refused():
    with pytest.raises(ValueError, match="no pixel"):
        median_colour(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool))
