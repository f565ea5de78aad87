"""The HTML report in a real browser (headless Chromium): it paints its maps and charts,
logs no console error, requests nothing but its own file, and prints to an A4 PDF.

Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them when
it can) and the `selenium` test extra; without them these tests skip, naming what is
missing. Pixels are read with the small PNG decoder below (zlib and numpy, no Pillow).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from sharedsvc.report import svg
from sharedsvc.report.html import render_html

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOWN_AT = Path("/tmp/report-screenshot.png")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WIDTH = 1200
REGIONS = ("bars-services", "bars-members", "cash-flow")


# -- a PNG reader: enough for Chromium's screenshots -----------------------------------


def _chunks(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        yield kind, body
        pos += 12 + length


def _unfilter_slowly(kind: int, line: bytes, up: bytes, bpp: int) -> bytes:
    """Average (3) and Paeth (4): each byte needs the one just decoded, so a loop."""
    row = bytearray(line)
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            row[i] = (row[i] + ((a + b) >> 1)) & 255
            continue
        c = up[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        row[i] = (row[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
    return bytes(row)


def read_png(data: bytes) -> np.ndarray:
    """Pixels (height, width, channels) of an 8-bit RGB or RGBA non-interlaced PNG."""
    header, idat = None, []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == height * (stride + 1), "truncated image data"
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum along each channel, modulo 256
            row = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            row = line + prev
        elif kind in (3, 4):
            decoded = _unfilter_slowly(kind, line.tobytes(), prev.tobytes(), bpp)
            row = np.frombuffer(decoded, dtype=np.uint8)
        else:
            raise AssertionError(f"unknown filter {kind} in row {y}")
        out[y] = row
        prev = out[y]
    return out.reshape(height, width, bpp)


def _encode_png(pixels: np.ndarray) -> bytes:
    """An RGB PNG using every filter in turn: to check the reader against known pixels."""
    height, width, bpp = pixels.shape
    image = pixels.reshape(height, width * bpp).astype(np.int32)
    rows, prev = [], np.zeros(width * bpp, dtype=np.int32)
    for y, cur in enumerate(image):
        left = np.concatenate([np.zeros(bpp, np.int32), cur[:-bpp]])
        corner = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        p = left + prev - corner
        pa, pb, pc = abs(p - left), abs(p - prev), abs(p - corner)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, corner))
        kind = y % 5
        guess = (0 * cur, left, prev, (left + prev) // 2, paeth)[kind]
        rows.append(bytes([kind]) + ((cur - guess) & 255).astype(np.uint8).tobytes())
        prev = cur

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def test_png_reader_undoes_every_filter():
    pixels = np.random.default_rng(7).integers(0, 256, (11, 9, 3), dtype=np.uint8)
    assert (read_png(_encode_png(pixels)) == pixels).all()


# -- the browser -----------------------------------------------------------------------


def _need_browser() -> None:
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not binary.exists():
            pytest.skip(
                f"{binary} is missing: install the Debian package {package} "
                "(apt-get install -y chromium chromium-driver)"
            )


@pytest.fixture(scope="module")
def report(tmp_path_factory, engine) -> Path:
    consortium = engine.load(ROOT / "consortia" / "south-east-london.toml")
    result = engine.optimise(consortium, time_limit=30)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(result, consortium, registry=engine.registry), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    _need_browser()
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is missing: pip install -e '.[test]'"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={WIDTH},3000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield browser
    browser.quit()


def _full_page_screenshot(driver) -> bytes:
    """The whole page, not only the window: the window is made as tall as the page."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        return driver.get_screenshot_as_png()
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _rect(driver, ident: str) -> tuple[int, int, int, int]:
    """An element's box in page pixels: left, top, right, bottom."""
    box = driver.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [r.left + window.scrollX, r.top + window.scrollY, r.right + window.scrollX,"
        " r.bottom + window.scrollY];",
        ident,
    )
    return tuple(round(v) for v in box)


def _near(region: np.ndarray, colour: str, tolerance: int = 40) -> int:
    """How many pixels of `region` are within `tolerance` of `colour` (#rrggbb)."""
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(region[..., :3].astype(int) - target).max(axis=-1) <= tolerance).sum())


def test_page_paints_its_drawings_without_errors_or_requests(driver, report, tmp_path):
    url = report.as_uri()
    driver.get("about:blank")
    driver.get_log("performance")  # drop what the browser did on its own before the page
    driver.get_log("browser")
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"
    maps = driver.execute_script(
        "return Array.from(document.querySelectorAll('svg.map'), e => e.id)"
    )
    assert len(maps) == 4  # one per service of South East London
    boxes = {ident: _rect(driver, ident) for ident in (*maps, *REGIONS)}

    png = _full_page_screenshot(driver)
    saved = tmp_path / "report.png"
    saved.write_bytes(png)
    shutil.copyfile(saved, SHOWN_AT)
    print(f"screenshot: {saved} (copied to {SHOWN_AT})")
    pixels = read_png(png)
    assert pixels.shape[1] == WIDTH

    for ident, (left, top, right, bottom) in boxes.items():
        assert right - left > 200 and bottom - top > 100, (ident, boxes[ident])
        assert bottom <= pixels.shape[0], f"{ident} lies below the screenshot"
        region = pixels[top:bottom, left:right, :3]
        painted = (region < 235).any(axis=-1).mean()
        assert painted > 0.01, f"{ident}: only {painted:.2%} of its pixels are not white"
        if ident in maps:  # the first group's colour, on its circles and links
            assert _near(region, svg.group_colour(0)) > 200, ident
            assert _near(region, svg.ALONE, 12) > 20, ident  # the member left alone
        else:
            assert _near(region, svg.POSITIVE) > 200, ident
    # between the drawings the page is mostly white and pale grey: not one painted block
    assert (pixels[..., :3] > 230).all(axis=-1).mean() > 0.6

    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    requested = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"][:200])
    assert url in requested, "the performance log saw no request at all: is it on?"
    others = sorted(set(requested) - {url})
    assert not others, f"{len(others)} requests beyond the page itself: {others[:10]}"


def _assert_a4_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    assert pages >= 1
    # A4 is 595 x 842 points
    size = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert size and abs(float(size.group(1)) - 595) < 2 and abs(float(size.group(2)) - 842) < 2


def test_page_prints_to_an_a4_pdf(report, tmp_path):
    """The browser's own print path, as `chromium --print-to-pdf` runs it: the page asks for
    A4 in its `@page` rule, so the PDF is A4 without the printer being told. (Chromedriver's
    print command failed with "Printing failed" on Chromium 150 in CI where this path did
    not depend on the driver.)"""
    _need_browser()
    pdf_path = tmp_path / "report.pdf"
    completed = subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0 and pdf_path.exists(), completed.stderr[-2000:]
    pdf = pdf_path.read_bytes()
    print(f"pdf: {pdf_path} ({len(pdf):,} bytes)")
    _assert_a4_pdf(pdf)


def test_chromium_command_line_screenshot(report, tmp_path):
    """The plain command line (no driver) renders the page too: what a user would run."""
    _need_browser()
    shot = tmp_path / "cli.png"
    completed = subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={WIDTH},3000",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    pixels = read_png(shot.read_bytes())
    assert pixels.shape[:2] == (3000, WIDTH)
    assert _near(pixels, svg.group_colour(0)) > 1000  # the maps' first group, at least
