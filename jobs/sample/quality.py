"""Image quality measured on the pixels, inside Spark (``mapInPandas``).

Each distinct query image is read once, on the executors, from the logs folder
(a local or shared path; a URL with a scheme such as ``s3://`` or ``hdfs://`` is
opened through ``pyarrow.fs``). Scores are on the grey-level image (0-255):

- ``width``, ``height``: of the stored image, in pixels;
- ``blur_score``: variance of the 4-neighbour Laplacian (low = blurred);
- ``brightness``: mean grey level; ``contrast``: standard deviation of the grey levels.

Images larger than ``max_side`` are shrunk first (blur is scale-dependent; the
default leaves the ~96 px generated photos untouched). An unreadable or missing
file gets ``image_error`` instead of scores, never a crash.
"""

from __future__ import annotations

import io

import numpy as np

from jobs.common.images import grey_scores, image_location, read_bytes

SCORE_SCHEMA = ("image_uri string, width int, height int, blur_score float, "
                "brightness float, contrast float, image_error string")


def score_image(location: str, max_side: int) -> dict:
    """The scores of one image file, or ``image_error`` saying why there are none."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(read_bytes(location))) as img:
            width, height = img.size
            grey = img.convert("L")
            if max(width, height) > max_side:
                grey.thumbnail((max_side, max_side))
            blur, brightness, contrast = grey_scores(np.asarray(grey))
    except FileNotFoundError:
        return {"image_error": "image file not found"}
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return {"image_error": f"unreadable image: {type(exc).__name__}: {str(exc)[:100]}"}
    return {"width": width, "height": height, "blur_score": blur, "brightness": brightness,
            "contrast": contrast, "image_error": None}


def score_batches(batches, logs_root: str, max_side: int):
    """``mapInPandas`` body: pandas batches of ``image_uri`` -> batches of scores."""
    import pandas as pd

    columns = [c.split()[0] for c in SCORE_SCHEMA.split(", ")]
    for batch in batches:
        rows = []
        for uri in batch["image_uri"]:
            scores = score_image(image_location(logs_root, uri), max_side)
            rows.append({"image_uri": uri, **scores})
        yield pd.DataFrame(rows, columns=columns).astype(
            {"width": "Int32", "height": "Int32", "blur_score": "float32",
             "brightness": "float32", "contrast": "float32"})


def image_scores(images, logs_root: str, max_side: int):
    """Scores for each distinct ``image_uri`` of ``images`` (a DataFrame with that column)."""
    distinct = images.select("image_uri").distinct()
    return distinct.mapInPandas(lambda it: score_batches(it, logs_root, max_side), SCORE_SCHEMA)
