"""Benchmark colored-batch on a generated archive: images/s and peak RSS.

    python bench/bench_batch.py                          # modest defaults for a 2-core machine
    python bench/bench_batch.py --count 200 --max-mp 12  # the issue's full-size archive
    python bench/bench_batch.py --model colored.onnx --rss-counts 200,2000
    python bench/bench_batch.py --modes pipeline --count 8 --render-size 512   # a render size (issue 13)
    python bench/bench_batch.py --modes io,codec --count 40 --max-mp 12 --repeat 5   # colour path vs the codec floor
    python bench/bench_batch.py --profile --count 40 --max-mp 12               # where the io path's time goes, per stage

Modes, each run in a fresh subprocess so its peak RSS is its own:
  naive     decode -> infer -> encode, one image at a time (prepare/infer/finish in a loop)
  pipeline  batch.pipeline.process: threaded decode/encode overlapped with batched inference
  io        the pipeline with zeros instead of the network: decode + colour conversion + encode alone
  codec     the floor: OpenCV decodes each file and encodes a colour image of its size and format
  model     the network alone on random L batches
The pipeline's ceiling is min(model, io). Without --model a tiny untrained model is
exported (needs torch); its network is nearly free, so the ceiling is the I/O path.
The archive: grey, film-grained crops of skimage's photos at mixed sizes up to --max-mp,
80% JPEG and 20% PNG, in nested folders; same --seed, same archive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def make_archive(root: Path, count: int, max_mp: float, seed: int, formats: str = "mixed") -> Path:
    import cv2
    from skimage import data

    marker = root / f".complete-{count}-{max_mp}-{seed}-{formats}"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    sources = [data.camera(), data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    sources = [s if s.ndim == 2 else cv2.cvtColor(s, cv2.COLOR_RGB2GRAY) for s in sources]
    rng = np.random.default_rng(seed)
    for i in range(count):
        src = sources[i % len(sources)]
        mp = rng.uniform(0.3, max_mp) if i % 5 else max_mp  # every fifth image at the maximum size
        aspect = rng.uniform(0.66, 1.5)
        w = int((mp * 1e6 * aspect) ** 0.5)
        h = int(mp * 1e6 / w)
        ch, cw = int(src.shape[0] * rng.uniform(0.6, 1)), int(src.shape[1] * rng.uniform(0.6, 1))
        y, x = rng.integers(0, src.shape[0] - ch + 1), rng.integers(0, src.shape[1] - cw + 1)
        img = cv2.resize(src[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        img += rng.normal(0, 4, img.shape).astype(np.float32)  # film grain: real scans are not smooth
        img = np.clip(img, 0, 255).astype(np.uint8)
        folder = root / f"box{i % 4}" / f"roll{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        if formats == "png" or (formats == "mixed" and i % 5 == 4):
            cv2.imwrite(str(folder / f"img{i:05d}.png"), img)
        else:
            cv2.imwrite(str(folder / f"img{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    marker.touch()
    return root


def linked_archive(src: Path, root: Path, count: int) -> Path:
    """`count` files hard-linked from the images of `src`: a big archive without big disk use."""
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith("."))
    shutil.rmtree(root, ignore_errors=True)
    for i in range(count):
        f = files[i % len(files)]
        dst = root / f"part{i // 500}" / f"{i:06d}{f.suffix}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(f, dst)
    return root


class NoModel:
    """Stands in for the session in the 'io' mode: zeros, instantly."""

    def get_inputs(self) -> list:
        return []

    def run(self, names, feeds):
        (L,) = feeds.values()
        return [np.zeros((L.shape[0], 2, *L.shape[2:]), np.float32)]


def run_mode(args: argparse.Namespace) -> dict:
    """One measurement, in this (child) process."""
    from batch.colorize import warm_up
    from batch.jobs import plan_jobs
    from batch.pipeline import finish, infer, prepare, process
    from batch.session import open_session
    from batch.settings import Settings

    from batch.render import render_size, resolve

    session, contract = open_session(args.model, threads=args.threads)
    settings = resolve(Settings(format="keep", render_size=args.render_size), contract, args.model)
    shutil.rmtree(args.out, ignore_errors=True)
    jobs = list(plan_jobs(args.archive, args.out, settings))
    warm_up()  # loading the compiled loops is a once-per-process cost, like opening the model
    start, cpu_start = time.perf_counter(), cpu_seconds()
    if args.mode == "model":
        S = render_size(settings, contract)
        L = np.random.default_rng(0).uniform(0, 100, (args.batch_size, 1, S, S)).astype(np.float32)
        for _ in range(0, len(jobs), args.batch_size):
            infer(session, contract, L)
    elif args.mode == "codec":
        codec_floor(jobs, settings.quality, args.workers)
    elif args.mode == "naive":
        for job in jobs:
            p = prepare(job, render_size(settings, contract), settings)
            if not hasattr(p, "decoded"):
                raise RuntimeError(f"{job.input}: {p.reason}")
            finish(job, p, infer(session, contract, p.L[None])[0], settings)
    else:
        results = process(jobs, NoModel() if args.mode == "io" else session, contract, settings,
                          workers=args.workers, batch_size=args.batch_size)
        bad = [r for r in results if r.status != "done"]
        if bad:
            raise RuntimeError(f"{len(bad)} failed, e.g. {bad[0].input}: {bad[0].reason}")
    return {"images": len(jobs), "seconds": time.perf_counter() - start, "cpu_seconds": cpu_seconds() - cpu_start,
            "peak_rss_mb": peak_rss_mb()}


def floor_decode(path: Path) -> np.ndarray:
    """The codec floor's decode: the file's bytes through OpenCV, as stored."""
    import cv2

    return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)


def floor_encode(pixels: np.ndarray, suffix: str, quality: int) -> bytes:
    """The codec floor's encode: a 3-channel image of the decoded size and depth, same
    format and settings as colored-batch writes (JPEG at --quality, PNG zlib 3 + Up filter)."""
    import cv2

    from batch.images import PNG_PARAMS

    colour = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR) if pixels.ndim == 2 else pixels
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, quality], ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
              ".png": list(PNG_PARAMS)}.get(suffix, [])  # TIFF: OpenCV's defaults (it warns on PNG keys)
    ok, buf = cv2.imencode(suffix, colour, params)
    if not ok:
        raise RuntimeError(f"OpenCV cannot encode {suffix}")
    return buf.tobytes()


def codec_floor(jobs: list, quality: int, workers: int) -> None:
    """Decode each input and encode a colour image of its size and format: the least any
    colorizer must spend on these files. OpenCV's libjpeg-turbo and libpng are the fastest
    codecs among the runtime's dependencies (Pillow's JPEG encode measured 1.3x slower)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(job) -> None:
        data = floor_encode(floor_decode(job.input), job.output.suffix.lower(), quality)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        job.output.write_bytes(data)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, jobs))


def wide_archive(src: Path, root: Path, count: int) -> Path:
    """16-bit PNG and TIFF copies of the first `count` images of `src`, for the profile."""
    import cv2

    marker = root / f".complete-{count}"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith("."))[:count]
    rng = np.random.default_rng(0)
    for i, f in enumerate(files):
        grey = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.uint16) * 257
        grey += rng.integers(0, 257, grey.shape, dtype=np.uint16)  # use the low byte as a 16-bit scan would
        cv2.imwrite(str(root / f"wide{i:03d}.png"), grey)
        cv2.imwrite(str(root / f"wide{i:03d}.tif"), grey)
    marker.touch()
    return root


def profile_stages(args: argparse.Namespace) -> dict:
    """CPU seconds per stage (batch.stopwatch) of the io path, one file after the other on one
    thread, and of the codec floor on the same files; grouped by format and bit depth."""
    import cv2

    from batch import stopwatch
    from batch.colorize import warm_up
    from batch.jobs import plan_jobs
    from batch.manifest import Manifest
    from batch.pipeline import finish, prepare
    from batch.render import render_size, resolve
    from batch.session import open_session
    from batch.settings import Settings

    cv2.setNumThreads(1)  # one thread: process CPU time is then the stage's own
    warm_up()
    _, contract = open_session(args.model, threads=1)
    settings = resolve(Settings(format="keep", render_size=args.render_size), contract, args.model)
    S = render_size(settings, contract)
    groups: dict[str, dict] = {}
    for archive in (args.archive, args.wide):
        out = args.out / archive.name
        shutil.rmtree(out, ignore_errors=True)
        manifest = Manifest(out)
        for job in plan_jobs(archive, out, settings):
            start = time.process_time()
            with stopwatch.collect() as t:
                p = prepare(job, S, settings)
                ab = np.zeros((2, S, S), np.float32)  # as the io mode: the network's time is not the path's
                manifest.record(finish(job, p, ab, settings))
            t["other"] = time.process_time() - start - sum(t.values())  # everything between the stages
            d = p.decoded
            key = f"{d.format} {d.bit_depth}-bit"
            g = groups.setdefault(key, {"files": 0, "megapixels": 0.0, "stages": {}, "floor": {}})
            g["files"] += 1
            g["megapixels"] += d.pixels.shape[0] * d.pixels.shape[1] / 1e6
            for name, sec in t.items():
                g["stages"][name] = g["stages"].get(name, 0.0) + sec
            start = time.process_time()
            pixels = floor_decode(job.input)
            decoded = time.process_time()
            floor_encode(pixels, job.output.suffix.lower(), settings.quality)
            g["floor"]["decode"] = g["floor"].get("decode", 0.0) + decoded - start
            g["floor"]["encode"] = g["floor"].get("encode", 0.0) + time.process_time() - decoded
    return groups


def print_profile(groups: dict) -> None:
    from batch.stopwatch import STAGES

    keys = sorted(groups)
    print("\nCPU ms per megapixel, one thread (batch.stopwatch stages):")
    print(f"{'stage':>20} " + " ".join(f"{k:>14}" for k in keys))
    print(f"{'files':>20} " + " ".join(f"{groups[k]['files']:>14}" for k in keys))
    for name in (*STAGES, "other"):
        print(f"{name:>20} " + " ".join(f"{1000 * groups[k]['stages'].get(name, 0) / groups[k]['megapixels']:14.2f}"
                                      for k in keys))
    totals = {k: sum(groups[k]["stages"].values()) / groups[k]["megapixels"] * 1000 for k in keys}
    floors = {k: sum(groups[k]["floor"].values()) / groups[k]["megapixels"] * 1000 for k in keys}
    print(f"{'io path':>20} " + " ".join(f"{totals[k]:14.2f}" for k in keys))
    for name in ("decode", "encode"):
        print(f"{'floor ' + name:>20} " + " ".join(
            f"{1000 * groups[k]['floor'][name] / groups[k]['megapixels']:14.2f}" for k in keys))
    print(f"{'io / floor':>20} " + " ".join(f"{totals[k] / floors[k]:14.2f}" for k in keys))
    main = [k for k in keys if "8-bit" in k]  # the generated archive itself (the 16-bit copies are extra)
    io = sum(totals[k] * groups[k]["megapixels"] for k in main)
    floor = sum(floors[k] * groups[k]["megapixels"] for k in main)
    print(f"the archive as a whole ({' + '.join(main)}), one thread: io / floor = {io / floor:.2f}")


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) this process has used."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Unlike getrusage's ru_maxrss it starts
    afresh at exec, so a child does not inherit the high-water mark of a torch-laden parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(mode: str, archive: Path, out: Path, args: argparse.Namespace, extra: tuple[str, ...] = ()):
    """One measurement in a fresh subprocess (its peak RSS is its own); its JSON answer."""
    cmd = [sys.executable, __file__, "--child", mode, "--archive", str(archive), "--out", str(out),
           "--model", str(args.model), "--workers", str(args.workers), "--batch-size", str(args.batch_size), *extra]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.render_size:
        cmd += ["--render-size", str(args.render_size)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"mode {mode} failed (exit status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(mode: str, archive: Path, out: Path, args: argparse.Namespace) -> dict:
    r = run_child(mode, archive, out, args)
    r.update(mode=mode, images_per_s=r["images"] / r["seconds"], cpu_ms_per_image=1000 * r["cpu_seconds"] / r["images"])
    return r


def median_run(runs: list[dict]) -> dict:
    """The run with the median CPU time per image (its own wall time and RSS with it)."""
    return sorted(runs, key=lambda r: r["cpu_ms_per_image"])[len(runs) // 2]


MODES = ("naive", "pipeline", "io", "codec", "model")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=60, help="images in the generated archive (default 60)")
    ap.add_argument("--max-mp", type=float, default=4.0, help="largest image, megapixels (default 4; the issue says 12)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", type=Path, help="ONNX model; default: a tiny untrained export (needs torch)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    ap.add_argument("--modes", default="naive,pipeline,io,model")
    ap.add_argument("--render-size", type=int, default=None, help="network input size (default: the model's own)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the modes this many times, taking turns, and report each one's median run")
    ap.add_argument("--formats", choices=("mixed", "png", "jpeg"), default="mixed",
                    help="archive files: mixed = 80%% JPEG / 20%% PNG (default), or all PNG / all JPEG")
    ap.add_argument("--profile", action="store_true",
                    help="instead of the modes: CPU ms per megapixel of each stage of the io path and of the "
                         "codec floor, one thread, for the archive's JPEG/PNG files and 16-bit PNG/TIFF copies")
    ap.add_argument("--rss-counts", default="", help="e.g. 200,2000: pipeline peak RSS on archives of these sizes (hard links)")
    ap.add_argument("--rss-max-mp", type=float, default=1.0, help="image size for the RSS archives")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "colored-bench")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--archive", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--wide", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        print(json.dumps(profile_stages(args) if args.mode == "profile" else run_mode(args)))
        return

    modes = args.modes.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:  # an unknown name used to run the pipeline silently
        ap.error(f"--modes: unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    if args.model is None:
        sys.path.insert(0, str(REPO / "tests"))
        from _tiny_model import tiny_model_path

        args.model = tiny_model_path()
    name = f"archive-{args.count}-{args.max_mp}-{args.seed}" + ("" if args.formats == "mixed" else f"-{args.formats}")
    archive = make_archive(args.work / name, args.count, args.max_mp, args.seed, args.formats)
    if args.profile:
        wide = wide_archive(archive, args.work / f"wide-{name}", 4)
        groups = run_child("profile", archive, args.work / "profile-out", args, ("--wide", str(wide)))
        print_profile(groups)
        if args.json:
            args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "profile": groups},
                                            indent=2))
        return
    rows = []
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for _ in range(args.repeat):  # the modes take turns, so a slow spell of the machine hits them alike
        for mode in modes:
            runs[mode].append(measure(mode, archive, args.work / "out", args))
    for mode in modes:
        rows.append(median_run(runs[mode]))
        r = rows[-1]
        spread = ""
        if args.repeat > 1:
            cpu = sorted(x["cpu_ms_per_image"] for x in runs[mode])
            spread = f" (runs {cpu[0]:.0f}-{cpu[-1]:.0f})"
        print(f"{mode:>9}: {r['images_per_s']:7.2f} images/s   {r['cpu_ms_per_image']:6.0f} CPU ms/image{spread}   "
              f"peak RSS {r['peak_rss_mb']:6.0f} MB", flush=True)
    by = {r["mode"]: r["images_per_s"] for r in rows}
    if {"naive", "pipeline"} <= by.keys():
        print(f"pipeline / naive = {by['pipeline'] / by['naive']:.2f}x (target >= 2x)")
    if {"io", "codec"} <= by.keys():
        cpu = {r["mode"]: r["cpu_ms_per_image"] for r in rows}
        print(f"io / codec = {cpu['io'] / cpu['codec']:.2f} in CPU time, {by['codec'] / by['io']:.2f} in wall time "
              "(target <= 1.25)")
        if args.repeat > 1:  # each turn's two runs are minutes apart at most: the steadiest ratio
            turns = sorted(i["cpu_ms_per_image"] / c["cpu_ms_per_image"] for i, c in zip(runs["io"], runs["codec"]))
            print(f"io / codec in CPU time, turn by turn: median {turns[len(turns) // 2]:.2f} "
                  f"(turns {', '.join(f'{t:.2f}' for t in turns)})")
    if {"pipeline", "io", "model"} <= by.keys():
        bound = min(by["io"], by["model"])
        print(f"pipeline / min(io, model) = {by['pipeline'] / bound:.0%} (target >= 85%)")
        # Where io and model compete for the same cores (CPU-only), they add up instead of
        # overlapping: this is then the most any schedule of the two can reach.
        serial = 1 / (1 / by["io"] + 1 / by["model"])
        print(f"pipeline / serial bound 1/(1/io + 1/model) = {serial:.2f} images/s: {by['pipeline'] / serial:.0%}")
    if args.rss_counts:
        small = make_archive(args.work / f"rss-src-{args.rss_max_mp}", 20, args.rss_max_mp, args.seed)
        for n in (int(c) for c in args.rss_counts.split(",")):
            r = measure("pipeline", linked_archive(small, args.work / f"rss-{n}", n), args.work / "rss-out", args)
            r["mode"] = f"pipeline-{n}"
            rows.append(r)
            print(f"pipeline on {n:>6} images: {r['images_per_s']:7.2f} images/s   peak RSS {r['peak_rss_mb']:7.0f} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
