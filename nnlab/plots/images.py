"""Image files a run wrote, made embeddable: an animated GIF's last frame as PNG bytes.

A GIF is decoded frame by frame up to the last, so its cost is width x height x frames, whatever its size on
disk: one is decoded only when that product stays within GIF_MAX_PIXELS and it has at most GIF_MAX_FRAMES frames.
"""

import io

from nnlab.results import limits


def gif_last_frame(data):
    """The last frame of an animated GIF (its bytes) as PNG bytes (a fitted-line animation ends on the final fit).

    None for a GIF still being written, cut short, or beyond the decoding limits.
    """
    from PIL import Image  # matplotlib's own image dependency, needed only when a run wrote a GIF

    try:
        with Image.open(io.BytesIO(data), formats=["GIF"]) as image:
            width, height = image.size
            if width * height > limits.GIF_MAX_PIXELS:
                return None
            frames = getattr(image, "n_frames", 1)  # counted without decoding
            if frames > limits.GIF_MAX_FRAMES or width * height * frames > limits.GIF_MAX_PIXELS:
                return None
            image.seek(frames - 1)
            buffer = io.BytesIO()
            image.convert("RGBA").save(buffer, format="PNG")
            return buffer.getvalue()
    except (OSError, ValueError, EOFError, Image.DecompressionBombError):  # a GIF still being written or cut short
        return None
