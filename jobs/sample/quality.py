"""Image quality measured on the pixels, inside Spark (``mapInPandas``).

Each distinct image is read once, on the executors, through ``jobs.common.images``
(locations strictly inside the image roots, size, pixel and time caps). Scores are on
the grey-level image (0-255):

- ``width``, ``height``: of the stored image, in pixels;
- ``blur_score``: variance of the 4-neighbour Laplacian (low = blurred);
- ``brightness``: mean grey level; ``contrast``: standard deviation of the grey levels.

Images larger than ``max_side`` are shrunk first (blur is scale-dependent; the
default leaves the ~96 px generated photos untouched). An image that is refused or
unreadable gets ``image_reason`` (one of ``IMAGE_REASONS``) and ``image_error`` (why)
instead of scores, never a crash.
"""

from __future__ import annotations

import numpy as np

from jobs.common.images import ImagePolicy, ImageRejected, decode_all, decoded_or_refusal, grey_scores

SCORE_SCHEMA = ("image_uri string, width int, height int, blur_score float, "
                "brightness float, contrast float, image_reason string, image_error string")
CHECK_SCHEMA = "image_uri string, image_reason string, image_error string"


def _scores(decoded) -> dict:
    """The scores of one :func:`decode_all` outcome (grey image and size, or a refusal)."""
    if isinstance(decoded, ImageRejected):
        return {"image_reason": decoded.reason, "image_error": decoded.detail}
    grey, (width, height) = decoded
    blur, brightness, contrast = grey_scores(np.asarray(grey))
    return {"width": width, "height": height, "blur_score": blur, "brightness": brightness,
            "contrast": contrast, "image_reason": None, "image_error": None}


def _check(decoded) -> dict:
    """Null reason when the photo decoded, else the refusal's reason and detail."""
    if isinstance(decoded, ImageRejected):
        return {"image_reason": decoded.reason, "image_error": decoded.detail}
    return {"image_reason": None, "image_error": None}


def score_image(policy: ImagePolicy, uri: str, max_side: int) -> dict:
    """The scores of one image, or ``image_reason``/``image_error`` saying why there are none."""
    return _scores(decoded_or_refusal(policy, uri, "L", max_side))


def _batches(batches, columns, rows):
    """One frame per Arrow batch: ``rows(uris)`` gives each uri's dict, in order."""
    import pandas as pd

    for batch in batches:
        uris = list(batch["image_uri"])
        yield pd.DataFrame([{"image_uri": uri, **row} for uri, row in zip(uris, rows(uris))], columns=columns)


def distinct_images(images):
    """The distinct ``image_uri`` of ``images``, spread over one partition per core.

    Spark's adaptive execution coalesces a small shuffle (a few MB of paths) into one
    partition, which would read every photo in one Python worker; an explicit count
    keeps every core decoding (on the 100 k-event week: 17.4 s in one partition, 9.5 s
    in two on two cores; eight partitions measured 17-19 s, so one per core).
    """
    cores = images.sparkSession.sparkContext.defaultParallelism
    return images.select("image_uri").distinct().repartition(cores, "image_uri")


def image_scores(images, policy: ImagePolicy, max_side: int):
    """Scores for each distinct ``image_uri`` of ``images`` (a DataFrame with that column)."""
    columns = [c.split()[0] for c in SCORE_SCHEMA.split(", ")]
    types = {"width": "Int32", "height": "Int32", "blur_score": "float32", "brightness": "float32",
             "contrast": "float32"}

    def body(it):
        def rows(uris):
            return map(_scores, decode_all(policy, uris, "L", max_side))

        for frame in _batches(it, columns, rows):
            yield frame.astype(types)

    return distinct_images(images).mapInPandas(body, SCORE_SCHEMA)


def image_checks(images, policy: ImagePolicy):
    """For each distinct ``image_uri`` of ``images``: null reason when it decodes, else why not."""
    columns = [c.split()[0] for c in CHECK_SCHEMA.split(", ")]
    return distinct_images(images).mapInPandas(
        lambda it: _batches(it, columns, lambda uris: map(_check, decode_all(policy, uris, "RGB", 64))),
        CHECK_SCHEMA)
