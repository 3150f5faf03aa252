"""Photos that cross a 2G link (issue 8): a small *transmission copy* first, the original later.

For every photo attached to a report the original goes into the blob store untouched (the
report names its sha256, as before) and, where the image can be decoded, a transmission copy
is made: EXIF orientation applied, longest edge ≤ ``photo_max_edge`` (profile, default 1600 px),
JPEG quality 80, with only the EXIF capture time and GPS kept — make, model, serial numbers,
maker notes, thumbnails, XMP and ICC profiles are left out. Both blobs are linked in the store
(``photo_copies``) and the report's photo entry carries ``copy_sha256``/``copy_size`` and what
the EXIF said (``taken_at``, ``gps``).

A photo that cannot be decoded (HEIC without a decoder, a corrupt file, an image too large to
decode safely) keeps its original, which is then sent as is; the caller gets a one-line note
saying so. Nothing here ever fails a report because of a photo's content.

Pillow is imported only inside the functions that decode, so ``fieldreport add`` without a
photo never loads it.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import warnings
from pathlib import Path
from typing import Any, Callable

from .errors import InputError
from .i18n import _

DEFAULT_MAX_EDGE = 1600
MIN_MAX_EDGE, MAX_MAX_EDGE = 320, 8000
JPEG_QUALITY = 80

# EXIF tags (numbers, so the module needs no Pillow import)
_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825
_ORIENTATION = 0x0112
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9011, 0x9012
# GPS tags kept in the copy: version, latitude, longitude, altitude, time and date stamps, datum
_GPS_KEEP = (0, 1, 2, 3, 4, 5, 6, 7, 18, 29)


# ------------------------------------------------------------------ settings
def max_edge_setting(profile=None) -> int:
    """The profile's ``extra.photo_max_edge`` (pixels), or 1600."""
    if profile is None:
        from . import paths
        from .profile import load_or_none

        profile = load_or_none(paths.resolve())
    raw = (getattr(profile, "extra", None) or {}).get("photo_max_edge", DEFAULT_MAX_EDGE)
    try:
        edge = -1 if isinstance(raw, bool) or isinstance(raw, float) else int(raw)
    except (TypeError, ValueError):
        edge = -1
    if not MIN_MAX_EDGE <= edge <= MAX_MAX_EDGE:
        raise InputError(_("photo_max_edge: {value!r} in the profile is not a size in pixels between {lo} and {hi}; "
                           "fix \"extra\": {{\"photo_max_edge\": 1600}} in profile.json").format(
                               value=raw, lo=MIN_MAX_EDGE, hi=MAX_MAX_EDGE), "photo_max_edge")
    return edge


# ------------------------------------------------------------------ decoding (pure: no store)
def make_copy(path: str | Path, *, max_edge: int = DEFAULT_MAX_EDGE, quality: int = JPEG_QUALITY,
              name: str | None = None) -> dict[str, Any]:
    """Read ``path``'s EXIF and make its transmission copy. Never raises for the image's content.

    Returns ``{"data": JPEG bytes or None, "width", "height", "taken_at", "gps", "note"}``;
    ``data`` is None when no copy was made, and ``note`` then says why (None when the original
    is simply small enough to send as it is)."""
    p = Path(path)
    label = name or p.name
    with open(p, "rb") as f:
        head = f.read(32)
    from .blobs import sniff_image

    mime = sniff_image(head)
    out: dict[str, Any] = {"data": None, "width": None, "height": None, "taken_at": None, "gps": None, "note": None}
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        out["note"] = _("photo {name}: Pillow is not installed, so no small copy was made; the original is sent "
                        "as is").format(name=label)
        return out
    if mime in ("image/heic", "image/avif"):
        _register_heif()
    try:
        im = _open_guarded(Image, p)
    except _TooLarge as e:
        out["note"] = _("photo {name}: {mp} megapixels is too large to shrink safely; the original is sent as "
                        "is").format(name=label, mp=e.megapixels)
        return out
    except Exception as e:  # noqa: BLE001 - any decoder failure falls back to the original
        if mime in ("image/heic", "image/avif"):
            out["note"] = _("photo {name}: no {fmt} decoder is installed (pip install pillow-heif), so no small copy "
                            "was made; the original is sent as is").format(name=label, fmt=mime.split("/")[1].upper())
        else:
            out["note"] = _("photo {name}: cannot be read as an image ({err}); the original is kept and sent as "
                            "is").format(name=label, err=_short(e))
        return out
    try:
        with im:
            return _shrink(Image, im, out, p, label, max_edge, quality)
    except Exception as e:  # noqa: BLE001 - corrupt pixel data, truncated files, odd modes
        out.update(data=None, width=None, height=None)
        out["note"] = _("photo {name}: the image data is damaged ({err}); the original is kept and sent as "
                        "is").format(name=label, err=_short(e))
        return out


class _TooLarge(Exception):
    def __init__(self, megapixels: int):
        self.megapixels = megapixels


def _open_guarded(Image, p: Path):
    """Open with Pillow's decompression-bomb guard. A JPEG over the limit is still shrunk: the
    decoder's DCT scaling (``draft``) decodes it at 1/2…1/8 size, within the limit."""
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(p)
        except Image.DecompressionBombError:
            pass
        Image.MAX_IMAGE_PIXELS = None  # read the header only; the size is checked below
        try:
            im = Image.open(p)
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    w, h = im.size
    if im.format == "JPEG" and limit:
        im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
        if im.size[0] * im.size[1] <= limit:
            return im
    im.close()
    raise _TooLarge(round(w * h / 1e6))


def _shrink(Image, im, out: dict[str, Any], p: Path, label: str, max_edge: int, quality: int) -> dict[str, Any]:
    from PIL import ImageOps

    src_w, src_h = im.size
    try:
        exif = im.getexif()
        sub = exif.get_ifd(_IFD_EXIF)
        gps_ifd = exif.get_ifd(_IFD_GPS)
    except Exception:  # noqa: BLE001 - malformed EXIF: carry on without it
        exif, sub, gps_ifd = {}, {}, {}
    out["taken_at"] = _taken_at(sub, exif)
    out["gps"] = _gps(gps_ifd)
    orientation = exif.get(_ORIENTATION) if exif else None
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    # Decode a JPEG directly at a reduced scale where that still leaves ≥ max_edge.
    longest = max(src_w, src_h)
    if im.format == "JPEG" and longest > max_edge:
        r = max_edge / longest
        im.draft("RGB", (max(1, math.ceil(src_w * r)), max(1, math.ceil(src_h * r))))
    im.load()
    img = im
    if orientation and orientation != 1:
        try:
            img = ImageOps.exif_transpose(im) or im
        except Exception:  # noqa: BLE001 - a bad orientation value: keep the pixels as they are
            img = im
    img = _to_rgb(Image, img)
    if max(img.size) > max_edge:
        img.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    copy_exif = _copy_exif(Image, sub, gps_ifd)
    buf = io.BytesIO()
    try:
        img.save(buf, "JPEG", quality=quality, optimize=True, exif=copy_exif)
    except Exception:  # noqa: BLE001 - odd EXIF values that cannot be written: drop them
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True)
    data = buf.getvalue()
    size = p.stat().st_size
    nothing_to_strip = not exif or all(k in (_IFD_EXIF, _IFD_GPS) for k in exif) and not any(
        k not in (_DATETIME_ORIGINAL, _OFFSET_ORIGINAL) for k in sub)
    if (len(data) >= size and longest <= max_edge and orientation in (None, 1) and nothing_to_strip
            and im.format == "JPEG"):
        out["width"], out["height"] = (src_w, src_h)
        return out  # already small and clean: the original is its own transmission copy
    out.update(data=data, width=img.size[0], height=img.size[1])
    return out


def _to_rgb(Image, img):
    if img.mode in ("RGB", "L"):
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return img.convert("I").point(lambda v: v / 256).convert("L") if img.mode.startswith("I;16") else img.convert("L")
    return img.convert("RGB")


def _copy_exif(Image, sub, gps_ifd) -> bytes:
    ex = Image.Exif()
    kept = False
    if sub.get(_DATETIME_ORIGINAL):
        e = ex.get_ifd(_IFD_EXIF)
        e[_DATETIME_ORIGINAL] = sub[_DATETIME_ORIGINAL]
        if sub.get(_OFFSET_ORIGINAL):
            e[_OFFSET_ORIGINAL] = sub[_OFFSET_ORIGINAL]
        kept = True
    g = {k: gps_ifd[k] for k in _GPS_KEEP if k in gps_ifd}
    if g.get(2) is not None and g.get(4) is not None:
        ex.get_ifd(_IFD_GPS).update(g)
        kept = True
    return ex.tobytes() if kept else b""


def _taken_at(sub, exif) -> str | None:
    for tag, off in ((_DATETIME_ORIGINAL, _OFFSET_ORIGINAL), (_DATETIME_DIGITIZED, _OFFSET_DIGITIZED)):
        raw = sub.get(tag) if sub else None
        if not isinstance(raw, str):
            continue
        try:
            d = _dt.datetime.strptime(raw.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        iso = d.isoformat()
        zone = sub.get(off)
        if isinstance(zone, str) and len(zone.strip()) == 6 and zone.strip()[0] in "+-":
            iso += zone.strip()
        return iso
    return None


def _gps(g) -> dict[str, float] | None:
    if not g:
        return None
    try:
        lat = _dms(g.get(2), g.get(1), "S")
        lon = _dms(g.get(4), g.get(3), "W")
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:  # phones write 0/0 when they had no fix
        return None
    out = {"lat": round(lat, 7), "lon": round(lon, 7)}
    try:
        alt = float(g[6]) if g.get(6) is not None else None
        if alt is not None and math.isfinite(alt):
            ref = g.get(5)
            if ref in (1, b"\x01", "1"):
                alt = -alt
            out["alt"] = round(alt, 1)
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return out


def _dms(value, ref, negative: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        parts = [float(value)]
    else:
        parts = [float(x) for x in value]
    deg = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    if not math.isfinite(deg):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if isinstance(ref, str) and ref.strip().upper().startswith(negative):
        deg = -deg
    return deg


def _register_heif() -> None:
    try:
        import pillow_heif  # type: ignore[import-not-found]
    except ImportError:
        return
    try:
        pillow_heif.register_heif_opener()
    except Exception:  # noqa: BLE001
        pass


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:120]


# ------------------------------------------------------------------ attaching (store + blobs)
def enrich(store, blobs, fields: dict[str, Any], photo_paths: list[Path], *,
           location_from_photo: bool | Callable[[dict[str, Any]], bool] = False,
           max_edge: int | None = None) -> list[str]:
    """What ``reports`` calls once the originals of ``photo_paths`` are in the blob store and
    their PhotoRefs are the last entries of ``fields["photos"]`` (in order): make each one's
    transmission copy, link the two in the store, and add ``copy_sha256``/``copy_size``/
    ``taken_at``/``gps`` to the PhotoRef. Photos given by hash (``--from``) get their known copy.

    Where the report has no coordinates and ``location_from_photo`` is True — or a callable
    (the CLI's question on a terminal) that returns True for the offered photo — lat/lon are
    taken from the first photo with an EXIF GPS position, and ``location_source`` records
    ``photo:<sha256>``. Returns one-line notes for the user (photos sent as is, no GPS)."""
    from .store import photos_store

    photos = fields.setdefault("photos", [])
    new = photos[len(photos) - len(photo_paths):] if photo_paths else []
    edge = max_edge or (max_edge_setting() if photo_paths else DEFAULT_MAX_EDGE)
    notes: list[str] = []
    links: list[dict[str, Any]] = []
    made: dict[str, dict[str, Any]] = {}
    for ref, p in zip(new, photo_paths):
        sha = ref["sha256"]
        info = made.get(sha)
        if info is None:
            known = photos_store.copy_of(store, sha)  # the same photo attached before: reuse its copy
            if known and known["processed"] and (known["copy_sha256"] is None or blobs.has(known["copy_sha256"])):
                info = made[sha] = known
        if info is None:
            info = make_copy(p, max_edge=edge, name=p.name)
            data = info.pop("data")
            info["copy_sha256"] = blobs.put_bytes(data) if data is not None else None
            info["copy_size"] = len(data) if data is not None else None
            links.append({"original": sha, **info})
            made[sha] = info
            if info.get("note"):
                notes.append(info["note"])
        _name_copy(ref, info)
    for ref in photos[:len(photos) - len(new)]:
        info = photos_store.copy_of(store, ref.get("sha256") or "")
        if info and not ref.get("copy_sha256"):
            _name_copy(ref, info)
    if links:
        photos_store.link(store, links)
    if fields.get("lat") is None and fields.get("lon") is None and location_from_photo:
        offer = next((r for r in photos if r.get("gps")), None)
        if offer is not None:
            if location_from_photo(offer) if callable(location_from_photo) else True:
                fields["lat"], fields["lon"] = offer["gps"]["lat"], offer["gps"]["lon"]
                fields["location_source"] = f"photo:{offer['sha256']}"
        elif location_from_photo is True:
            notes.append(_("--location-from-photo: no photo carries a GPS position, so the report has no "
                           "coordinates"))
    return notes


def _name_copy(ref: dict[str, Any], info: dict[str, Any]) -> None:
    if info.get("copy_sha256"):
        ref["copy_sha256"], ref["copy_size"] = info["copy_sha256"], info["copy_size"]
    if info.get("taken_at"):
        ref["taken_at"] = info["taken_at"]
    if info.get("gps"):
        ref["gps"] = info["gps"]


def ingest(store, blobs, paths: list[Path], *, max_edge: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """For other features (checklist answers): store each photo's original, make and link its
    transmission copy. Returns (PhotoRef dicts naming the originals, notes for the user)."""
    from .blobs import sniff_image

    refs = []
    for p in paths:
        sha, size = blobs.put_file(p)
        with open(p, "rb") as f:
            mime = sniff_image(f.read(32)) or "application/octet-stream"
        refs.append({"sha256": sha, "size": size, "mime": mime, "name": Path(p).name})
    holder = {"photos": refs}
    notes = enrich(store, blobs, holder, [Path(p) for p in paths], max_edge=max_edge)
    return holder["photos"], notes


# ------------------------------------------------------------------ for sync, status, purge, the hub
def blobs_to_send(store, originals: bool = False, *, blobs=None) -> list[dict[str, Any]]:
    """The photo blobs to upload, in order: first each photo's transmission copy (role ``copy``)
    — or, where no copy could be made, its original as is (role ``original``, ``why: "no_copy"``)
    — then, only with ``originals=True`` (``sync --originals``) or where the hub asked for it
    (``blob.request_original`` in the pull feed), the originals (role ``original``, ``why``
    ``"originals"`` or ``"requested"``). Blobs the hub has confirmed (``blobs.uploaded_at``) are
    left out. Each item: ``{sha256, path, size, role, why, original_sha256}``; every one is a
    blob of the store (read it through ``BlobStore.open_read`` when photos are encrypted)."""
    from .store import photos_store

    if blobs is None:
        from .blobs import BlobStore

        blobs = BlobStore(Path(store.path).parent / "blobs")
    first, later = [], []
    for b in photos_store.photo_blobs(store):
        orig_path = blobs.path(b["sha256"])
        if b["uploaded_at"]:
            continue
        if b["copy_sha256"]:
            cpath = blobs.path(b["copy_sha256"])
            if not b["copy_uploaded_at"] and cpath.exists():
                first.append({"sha256": b["copy_sha256"], "path": str(cpath), "size": b["copy_size"], "role": "copy",
                              "why": "copy", "original_sha256": b["sha256"]})
            if (originals or b["requested"]) and orig_path.exists():
                later.append({"sha256": b["sha256"], "path": str(orig_path), "size": b["size"], "role": "original",
                              "why": "requested" if b["requested"] else "originals", "original_sha256": b["sha256"]})
        elif orig_path.exists():
            first.append({"sha256": b["sha256"], "path": str(orig_path), "size": b["size"], "role": "original",
                          "why": "no_copy", "original_sha256": b["sha256"]})
    return first + later


def request_original(store, sha256: str) -> bool:
    """Record the hub's ``blob.request_original {sha256}``: the next ``sync`` sends that original.
    False when no report here has that photo."""
    from .store import photos_store

    return photos_store.request_original(store, sha256)


def originals_pending(store) -> dict[str, int]:
    """Originals attached to reports that the hub has not confirmed: ``{count, bytes}``."""
    from .store import photos_store

    n, size = photos_store.originals_local_only(store)
    return {"count": n, "bytes": size}


def original_confirmed(store, sha256: str) -> bool:
    """True once the hub has confirmed it holds this original whole (``blobs.uploaded_at``).
    ``fieldreport purge`` must never delete an original for which this is False."""
    from .store import photos_store

    return photos_store.uploaded_at(store, sha256) is not None
