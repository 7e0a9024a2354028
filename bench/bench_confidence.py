"""Benchmark the cost of the per-picture confidence (issue 21): the same pipeline with and without it.

    python bench/bench_confidence.py                          # tiny classification model, render 256
    python bench/bench_confidence.py --model colored.onnx     # a model exported with the confidence output
    python bench/bench_confidence.py --count 400 --repeat 5
    python bench/bench_confidence.py --model-only --repeat 20  # the network call alone, CPU time

"with": the model as exported (second output "confidence"), fetched and reduced to one figure
per picture, as colored-batch runs it. "without": the same file with the output and its
contract key removed (what a model exported before issue 21 is): onnxruntime's optimiser
drops the nodes that fed it, so this is the cost of the whole feature, graph included.
Both run batch.pipeline.process (what colored-batch runs) into fresh output folders, taking
turns --repeat times; the medians and the turn-by-turn ratios are printed.

Without --model a tiny untrained classification model is exported (needs torch) and run at
--render-size 256: its logits are as large as the shipped model's at its default size (313
bins x 128 x 128), so the confidence costs what it costs there, while the rest of the network
is nearly free; the relative cost printed is therefore an upper bound for a real model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from timed_pass import timed_pass  # bench/ is on sys.path when a script runs

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]


def strip_confidence(src: Path, dst: Path) -> Path:
    """The model without its confidence output and contract key (a pre-issue-21 export)."""
    import onnx

    proto = onnx.load(str(src))
    keep = [o for o in proto.graph.output if o.name != "confidence"]
    del proto.graph.output[:]
    proto.graph.output.extend(keep)
    props = [p for p in proto.metadata_props if p.key != "colored.confidence_output"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(props)
    onnx.save(proto, str(dst))
    return dst


def run_pass(src: Path, out: Path, model: Path, render_size: int | None, workers: int, batch_size: int,
             threads: int | None) -> tuple[float, int]:
    """(images/s, files with a confidence) of one colored-batch pass."""
    from batch.settings import Settings

    rate, results = timed_pass(src, out, model, Settings(render_size=render_size), workers, batch_size, threads)
    return rate, sum(r.confidence is not None for r in results)


def model_only(with_model: Path, without_model: Path, render_size: int, batch_size: int, repeat: int,
               seed: int) -> dict:
    """CPU seconds per batch of the network call alone, one thread, taking turns: with the confidence
    output fetched and reduced to figures, and the stripped model (ab only). CPU time, not wall time,
    so that other work on a shared machine does not swamp the difference."""
    import numpy as np

    from batch.confidence import picture_confidence
    from batch.session import infer, infer_with_confidence, open_session

    L = np.random.default_rng(seed).uniform(0, 100, (batch_size, 1, render_size, render_size)).astype(np.float32)
    s_with, c_with = open_session(with_model, device="cpu", threads=1)
    s_without, c_without = open_session(without_model, device="cpu", threads=1)

    def with_conf() -> None:
        ab, conf = infer_with_confidence(s_with, c_with, L, pad_to=batch_size)
        picture_confidence(conf, ab)

    def without_conf() -> None:
        infer(s_without, c_without, L, pad_to=batch_size)

    for fn in (with_conf, without_conf):  # first calls allocate and pick kernels
        fn()
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(repeat):
        for name, fn in (("with", with_conf), ("without", without_conf)):
            t = time.process_time()
            fn()
            cpu[name].append(time.process_time() - t)
    w, wo = statistics.median(cpu["with"]), statistics.median(cpu["without"])
    return {"mode": "model-only", "render_size": render_size, "batch": batch_size, "repeat": repeat,
            "with_cpu_s_per_batch": round(w, 4), "without_cpu_s_per_batch": round(wo, 4),
            "extra_cpu_ms_per_image": round((w - wo) / batch_size * 1000, 2), "ratio": round(w / wo, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="a model with the confidence output")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--size", default="240x320", help="HxW of every picture")
    ap.add_argument("--render-size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-only", action="store_true",
                    help="time the network call alone (CPU seconds, one thread), not the pipeline")
    args = ap.parse_args(argv)

    from bench_small import make_pictures

    with tempfile.TemporaryDirectory(prefix="colored-bench-confidence-") as tmp:
        tmp = Path(tmp)
        if args.model is None:
            from _tiny_model import tiny_model_path

            args.model = tiny_model_path(head="classification")
        without = strip_confidence(args.model, tmp / "without.onnx")
        if args.model_only:
            print(json.dumps(model_only(args.model, without, args.render_size, args.batch_size,
                                        max(args.repeat, 5), args.seed)))
            return 0
        src = tmp / "in"
        height, width = map(int, args.size.lower().split("x"))
        make_pictures(src, args.count, height, width, args.seed)
        runs: dict[str, list[float]] = {"with": [], "without": []}
        for turn in range(args.repeat):
            for name, model in (("with", args.model), ("without", without)):
                rate, figures = run_pass(src, tmp / f"{name}-{turn}", model, args.render_size, args.workers,
                                         args.batch_size, args.threads)
                assert figures == (args.count if name == "with" else 0), (name, figures)
                runs[name].append(rate)
                print(f"turn {turn + 1} {name:>7}: {rate:.2f} images/s", flush=True)
        ratios = [w / wo for w, wo in zip(runs["with"], runs["without"])]
        record = {
            "model": str(args.model), "count": args.count, "size": args.size, "render_size": args.render_size,
            "with_img_s": round(statistics.median(runs["with"]), 2),
            "without_img_s": round(statistics.median(runs["without"]), 2),
            "with_over_without_turn_by_turn": [round(r, 3) for r in ratios],
            "median_ratio": round(statistics.median(ratios), 3),
        }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
