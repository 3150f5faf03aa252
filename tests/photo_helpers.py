"""A small real JPEG for tests that need Pillow to make a transmission copy."""

from pathlib import Path


def make_jpeg(path: Path, size=(2400, 1800)) -> Path:
    from PIL import Image

    img = Image.new("RGB", size, (200, 80, 40))
    for x in range(0, size[0], 40):
        for y in range(0, size[1], 40):
            img.putpixel((x, y), (x % 256, y % 256, 120))
    img.save(path, "JPEG", quality=90)
    return path
