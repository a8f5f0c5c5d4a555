"""Image files a run wrote, made embeddable: an animated GIF's last frame as PNG bytes."""

import io


def gif_last_frame(path):
    """The last frame of an animated GIF as PNG bytes (a fitted-line animation ends on the final fit), or None."""
    from PIL import Image  # matplotlib's own image dependency, needed only when a run wrote a GIF

    try:
        with Image.open(path) as image:
            image.seek(getattr(image, "n_frames", 1) - 1)
            buffer = io.BytesIO()
            image.convert("RGBA").save(buffer, format="PNG")
            return buffer.getvalue()
    except (OSError, ValueError, EOFError):  # a GIF still being written or cut short
        return None
