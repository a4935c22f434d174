"""Photo processing: time and peak memory for a 12-megapixel JPEG and a 4000×3000 PNG.

Each case runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own;
tracemalloc's peak is measured there too (Pillow's pixel buffers are allocated in C and
mostly invisible to it, hence both). JPEG runs with and without draft mode, side by side.
Run: .venv/bin/python bench/photo_bench.py   (prints figures; never a test)
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPEAT = 3


def make_images(folder: Path) -> dict[str, Path]:
    """A photo-like 12 MP JPEG (noise + gradient, so it compresses like a photo) and a PNG."""
    from PIL import Image

    base = Image.radial_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 40)
    photo = Image.merge("RGB", (base, noise, Image.linear_gradient("L").resize((4000, 3000))))
    paths = {"jpeg": folder / "12mp.jpg", "png": folder / "4000x3000.png"}
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the phone was held upright
    photo.save(paths["jpeg"], "JPEG", quality=90, exif=exif.tobytes())
    photo.save(paths["png"], "PNG", compress_level=6)
    return paths


def child(path: str, draft: bool) -> None:
    """One measurement; prints a JSON line. Path "-" measures the interpreter and codecs only."""
    from PIL import Image

    from inventory.photos.processing import process_photo

    tiny = io.BytesIO()
    Image.new("RGB", (64, 48)).save(tiny, "JPEG")
    process_photo(tiny.getvalue())  # loads the codecs; a tiny image keeps the RSS baseline low
    if path == "-":
        print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    data = Path(path).read_bytes()
    times = []
    tracemalloc.start()
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = process_photo(data, draft=draft)
        times.append(time.perf_counter() - start)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "seconds": min(times),
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "traced_peak_mb": traced_peak / 2**20,
                "input_mb": len(data) / 2**20,
                "output_kb": (len(result.display) + len(result.thumbnail)) / 1024,
                "size": f"{result.width}x{result.height}",
            }
        )
    )


def measure(path: Path | str, draft: bool) -> dict[str, float | str]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "1" if draft else "0"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float | str] = json.loads(output.strip().splitlines()[-1])
    return figures


def main() -> None:
    baseline = float(measure("-", draft=True)["maxrss_mb"])
    with tempfile.TemporaryDirectory() as folder:
        paths = make_images(Path(folder))
        cases = {
            "12 MP JPEG, draft mode": measure(paths["jpeg"], draft=True),
            "12 MP JPEG, no draft": measure(paths["jpeg"], draft=False),
            "4000x3000 PNG": measure(paths["png"], draft=True),
        }
    for figures in cases.values():
        figures["above_mb"] = float(figures["maxrss_mb"]) - baseline
    print(f"photo processing (best of {REPEAT}; each case in its own process)")
    print(f"baseline (interpreter + Pillow + pillow-heif loaded): maxrss {baseline:.0f} MB")
    header = f"{'case':<24}{'input':>9}{'time':>9}{'maxrss':>9}{'+base':>8}{'traced':>9}  output"
    print(header)
    for name, f in cases.items():
        print(
            f"{name:<24}{f['input_mb']:>7.1f}MB{f['seconds']:>8.3f}s{f['maxrss_mb']:>7.0f}MB"
            f"{f['above_mb']:>6.0f}MB{f['traced_peak_mb']:>7.1f}MB  "
            f"{f['size']} display + thumb = {f['output_kb']:.0f} KB"
        )
    drafted, full = cases["12 MP JPEG, draft mode"], cases["12 MP JPEG, no draft"]
    speed = float(full["seconds"]) / float(drafted["seconds"])
    memory = float(full["above_mb"]) / max(float(drafted["above_mb"]), 1.0)
    print(
        f"draft mode vs. no draft (JPEG): {speed:.2f}x faster, "
        f"{memory:.2f}x less memory above the baseline"
    )
    png = cases["4000x3000 PNG"]
    print(f"PNG vs. JPEG with draft: {float(png['seconds']) / float(drafted['seconds']):.2f}x time")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3] == "1")
    else:
        main()
