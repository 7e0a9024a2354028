"""Losses, the memorisation sanity run, and short colored-train CLI runs (resume included)."""

import csv
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage import data as skdata

from colored import bins
from colored.checkpoint import read_checkpoint
from colored.losses import ClassificationLoss, mse, soft_encode
from colored.train import TrainConfig, TrainError, cosine_lr, train
from colored.train_cli import cli

torch.set_num_threads(1)
TINY = ["--backbone", "test_efficientnet", "--backbone-size", "64", "--no-pretrained", "--image-size", "64"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(getattr(skdata, name)()).resize((96, 96)).save(root / f"{name}.jpg")
    Image.fromarray(skdata.rocket()).resize((96, 96)).save(root / "sub" / "rocket.png")
    (root / "sub" / "broken.png").write_bytes(b"\x89PNG but not really")
    return root


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_torch_soft_encoding_matches_numpy():
    ab = torch.rand(2, 2, 5, 7) * 160 - 80
    centers = torch.tensor(bins.bin_centers(), dtype=torch.float32)
    idx, w = soft_encode(ab, centers)
    ref_idx, ref_w = bins.soft_encode(ab.permute(0, 2, 3, 1).double().numpy())
    np.testing.assert_array_equal(idx.permute(0, 2, 3, 1).numpy(), ref_idx)
    np.testing.assert_allclose(w.permute(0, 2, 3, 1).numpy(), ref_w, atol=1e-5)


def test_losses():
    ab = torch.full((1, 2, 4, 4), 64.0)
    assert mse(torch.full((1, 2, 4, 4), 0.5), ab).item() == pytest.approx(0.0)
    assert mse(torch.zeros(1, 2, 4, 4), ab).item() == pytest.approx(0.25)
    prior = np.full(313, 1 / 313)
    loss = ClassificationLoss(prior)  # uniform prior: all pixel weights 1
    idx, soft, pixel_w = loss.targets(ab, (2, 2))  # targets at the logits' half resolution
    assert idx.shape == (1, 5, 2, 2) and torch.allclose(pixel_w, torch.ones(1, 2, 2))
    good = torch.zeros(1, 313, 2, 2).scatter(1, idx, 10 * soft)
    bad = torch.zeros(1, 313, 2, 2)
    bad[:, 0] = 10
    assert loss(good, ab) < loss(torch.zeros(1, 313, 2, 2), ab) < loss(bad, ab)
    # uniform logits: cross-entropy is log Q
    assert loss(torch.zeros(1, 313, 2, 2), ab).item() == pytest.approx(np.log(313), rel=1e-5)
    rare = ClassificationLoss(np.where(np.arange(313) == 0, 0.9, 0.1 / 312))
    assert rare(bad, ab).item() > loss(bad, ab).item()  # a rare target colour weighs more


def test_memorises_one_image(tmp_path):
    """The reference's sanity test: the tiny model must learn one image's colours."""
    img = tmp_path / "chelsea.jpg"
    Image.fromarray(skdata.chelsea()).save(img)
    cfg = TrainConfig(
        data=str(img), out=str(tmp_path / "run"), loss="mse", epochs=2, batch_size=1, steps_per_epoch=30,
        backbone="test_efficientnet", backbone_size=64, pretrained=False, overfit_one=True, preview_every=0,
    )
    final = train(cfg, progress=False)["final"]
    # measured: ~30 dB after 50 steps vs the 19.5 dB gray baseline; 60 steps must clear +6 dB
    assert final["val_psnr"] > final["val_gray_psnr"] + 6, final


def test_cli_run_outputs_and_exact_resume(photos, tmp_path):
    args = [str(photos), *TINY, "--loss", "classification", "--batch-size", "2", "--steps-per-epoch", "2",
            "--val-fraction", "0.25", "--quiet"]
    run = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = CliRunner().invoke(cli, [*args, "--out", str(run), "--epochs", "2"])
    assert res.exit_code == 0, res.output
    assert "gray baseline" in res.output
    assert sum("broken.png" in str(w.message) for w in caught) <= 2  # prior pass + training, never per epoch
    for name in ("best.pt", "last.pt", "metrics.csv", "curves.png", "split.json", "previews/epoch_0001.png"):
        assert (run / name).is_file(), name
    preview = Image.open(run / "previews" / "epoch_0002.png")
    assert preview.width > 3 * 64 and preview.height >= 64  # original | gray | predicted
    rows = read_csv(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_loss", "val_loss", "val_psnr", "val_colorfulness", "val_dcf", "val_auc", "lr", "seconds"} <= set(rows[0])
    ckpt = read_checkpoint(run / "last.pt")
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2 and ckpt["prior"].shape == (313,)
    assert ckpt["val_files"] and not set(ckpt["val_files"]) & set(ckpt["train_files"])
    assert ckpt["model_config"]["head"] == "classification"

    res = CliRunner().invoke(cli, [*args, "--out", str(run), "--epochs", "3", "--resume"])
    assert res.exit_code == 0, res.output
    resumed = read_csv(run / "metrics.csv")
    assert [r["epoch"] for r in resumed] == ["1", "2", "3"]
    assert [r["train_loss"] for r in resumed[:2]] == [r["train_loss"] for r in rows]
    assert read_checkpoint(run / "last.pt")["epoch"] == 3

    # the resumed third epoch equals the third epoch of an uninterrupted run
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "straight"), "--epochs", "3"])
    assert res.exit_code == 0, res.output
    straight = read_csv(tmp_path / "straight" / "metrics.csv")
    assert float(straight[2]["train_loss"]) == pytest.approx(float(resumed[2]["train_loss"]), rel=1e-4)
    assert float(straight[2]["val_loss"]) == pytest.approx(float(resumed[2]["val_loss"]), rel=1e-4)


def test_cli_mse_with_cache_and_workers(photos, tmp_path):
    res = CliRunner().invoke(cli, [str(photos), *TINY, "--loss", "mse", "--epochs", "1", "--batch-size", "2",
                                   "--cache-images", "--workers", "1", "--max-train-images", "2", "--quiet",
                                   "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    assert len(ckpt["train_files"]) == 2 and ckpt["prior"] is None
    assert ckpt["model_config"]["head"] == "regression" and ckpt["model_config"]["train_backbone"] is True


def test_cli_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, [str(tmp_path / "empty"), "--out", str(tmp_path / "r"), "--no-pretrained"])
    assert res.exit_code == 1 and f"error: {tmp_path / 'empty'}: no images found (looked for" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(cli, [str(tmp_path / "empty"), "--out", str(tmp_path / "r"), "--resume"])
    assert res.exit_code == 1 and "last.pt: no such checkpoint" in res.output
    if not torch.cuda.is_available():
        res = CliRunner().invoke(cli, [str(tmp_path / "empty"), "--out", str(tmp_path / "r"), "--device", "cuda"])
        assert res.exit_code == 1 and "error: --device cuda" in res.output


def test_aux_term_scores_the_decoded_colour():
    """--aux-weight adds the MSE of the annealed-mean decode: same cross-entropy, worse decode, higher loss."""
    ab = torch.full((1, 2, 4, 4), 30.0)
    prior = np.full(313, 1 / 313)
    plain, aux = ClassificationLoss(prior), ClassificationLoss(prior, aux_weight=10.0)
    idx, soft, _ = plain.targets(ab, (2, 2))
    right = torch.zeros(1, 313, 2, 2).scatter(1, idx, 10 * soft)
    wrong = torch.zeros(1, 313, 2, 2)
    wrong[:, 0] = 10  # bin 0 is far from (30, 30)
    extra_right = (aux(right, ab) - plain(right, ab)).item()
    extra_wrong = (aux(wrong, ab) - plain(wrong, ab)).item()
    centre = torch.tensor(bins.bin_centers()[0], dtype=torch.float32)
    expected = 10.0 * float(((centre - 30.0) / 128.0).square().mean())  # decode is ~bin 0's centre
    assert extra_right < 1e-4  # (30, 30) is a bin centre: the soft targets decode to it
    assert extra_wrong == pytest.approx(expected, rel=0.05)


def test_cli_unet_on_two_folders_with_random_crops(photos, tmp_path):
    """--arch unet, two DATA folders (split over both) and --crop-from: runs, records, resumes."""
    more = tmp_path / "more"
    more.mkdir()
    Image.fromarray(skdata.astronaut()).resize((160, 96)).save(more / "wide.png")  # not square: cropped
    args = [str(photos), str(more), "--arch", "unet", *TINY, "--crop-from", "80", "--batch-size", "2",
            "--steps-per-epoch", "1", "--val-fraction", "0.3", "--aux-weight", "5", "--rebalance-lambda", "0.7",
            "--cache-images", "--quiet", "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(cli, [*args, "--epochs", "1"])
    assert res.exit_code == 0, res.output
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    files = ckpt["train_files"] + ckpt["val_files"]
    assert any(f.endswith("wide.png") for f in files) and any(f.endswith("coffee.jpg") for f in files)
    assert ckpt["model_config"]["arch"] == "unet" and ckpt["model_config"]["backbone_size"] == 64
    tc = ckpt["train_config"]
    assert (tc["crop_from"], tc["aux_weight"], tc["rebalance_lambda"]) == (80, 5.0, 0.7)
    assert len(tc["data"]) == 2
    assert tc["fusion_init"] == "zero"
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert res.exit_code == 0, res.output
    assert read_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 2


def test_cli_rejects_bad_new_options(photos, tmp_path):
    res = CliRunner().invoke(cli, [str(photos), "--arch", "unet", *TINY[:-1], "48", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "multiple of 32" in res.output
    res = CliRunner().invoke(cli, [str(photos), *TINY, "--crop-from", "32", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "--crop-from 32 must be at least --image-size 64" in res.output
    res = CliRunner().invoke(cli, [str(photos), *TINY, "--ema", "1", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--ema" in res.output
    res = CliRunner().invoke(cli, [str(photos), *TINY, "--tone-jitter", "1.5", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--tone-jitter" in res.output
    with pytest.raises(TrainError, match="--tone-jitter"):
        TrainConfig(data=str(photos), out=str(tmp_path / "r"), tone_jitter=-0.1)


def test_cli_ema_validates_the_average_and_resumes_exactly(photos, tmp_path):
    """--ema: validation and last.pt's weights are the moving average (the optimiser's own weights are
    kept beside them for --resume), and a resumed run continues the average exactly."""
    args = [str(photos), "--arch", "unet", *TINY, "--crop-from", "80", "--crop-min-area", "0.1", "--batch-size", "2",
            "--steps-per-epoch", "2", "--val-fraction", "0.3", "--tone-jitter", "0.5", "--quiet"]
    plain, ema = tmp_path / "plain", tmp_path / "ema"
    assert CliRunner().invoke(cli, [*args, "--out", str(plain), "--epochs", "2"]).exit_code == 0
    res = CliRunner().invoke(cli, [*args, "--ema", "0.9", "--out", str(ema), "--epochs", "2"])
    assert res.exit_code == 0, res.output
    ckpt = read_checkpoint(ema / "last.pt")
    assert ckpt["train_config"]["ema"] == 0.9 and ckpt["train_config"]["crop_min_area"] == 0.1
    assert ckpt["train_config"]["tone_jitter"] == 0.5
    assert ckpt["ema_updates"] == 4
    head = "head.weight"
    assert not torch.equal(ckpt["model"][head], ckpt["train_model"][head])
    # same seed, same steps: the optimiser's weights match the plain run's; the validated ones do not
    plain_ckpt = read_checkpoint(plain / "last.pt")
    assert torch.allclose(ckpt["train_model"][head], plain_ckpt["model"][head], atol=1e-6)
    assert read_csv(ema / "metrics.csv")[1]["val_loss"] != read_csv(plain / "metrics.csv")[1]["val_loss"]

    res = CliRunner().invoke(cli, [*args, "--out", str(ema), "--epochs", "3", "--resume"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, [*args, "--ema", "0.9", "--out", str(tmp_path / "straight"), "--epochs", "3"])
    assert res.exit_code == 0, res.output
    resumed, straight = read_csv(ema / "metrics.csv"), read_csv(tmp_path / "straight" / "metrics.csv")
    assert float(resumed[2]["val_loss"]) == pytest.approx(float(straight[2]["val_loss"]), rel=1e-4)
    a, b = read_checkpoint(ema / "last.pt")["model"], read_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    assert torch.allclose(a[head], b[head], atol=1e-5)


def test_cosine_schedule_and_low_res_phase(photos, tmp_path):
    """--schedule cosine lowers the rate every step to lr/100 at the last epoch; --low-res-epochs
    trains the first epochs on smaller views, validation staying at --image-size."""
    assert cosine_lr(1e-3, 0, 10) == pytest.approx(1e-3)
    assert cosine_lr(1e-3, 5, 10) == pytest.approx(0.5 * (1e-3 + 1e-5))
    assert cosine_lr(1e-3, 10, 10) == pytest.approx(1e-5) == cosine_lr(1e-3, 12, 10)
    args = [str(photos), "--arch", "unet", *TINY[:-1], "96", "--crop-from", "96", "--batch-size", "2",
            "--steps-per-epoch", "2", "--val-fraction", "0.3", "--schedule", "cosine", "--low-res-epochs", "1",
            "--low-res-size", "64",
            "--quiet", "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(cli, [*args, "--epochs", "3"])
    assert res.exit_code == 0, res.output
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    assert [int(r["view_size"]) for r in rows] == [64, 96, 96]
    lrs = [float(r["lr"]) for r in rows]  # the rate of each epoch's last step (steps 1, 3, 5 of 6)
    assert lrs == pytest.approx([cosine_lr(1e-3, s, 6) for s in (1, 3, 5)], rel=1e-4)
    tc = read_checkpoint(tmp_path / "run" / "last.pt")["train_config"]
    assert (tc["schedule"], tc["low_res_epochs"], tc["low_res_size"]) == ("cosine", 1, 64)
    res = CliRunner().invoke(cli, [str(photos), "--arch", "unet", *TINY, "--low-res-epochs", "1", "--low-res-size", "48",
                                   "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "--low-res-size must be a multiple of 32" in res.output


# ---------------------------------------------------------------- issue 22: no lost runs, one-line errors

ONE_EPOCH = [*TINY, "--loss", "mse", "--batch-size", "2", "--steps-per-epoch", "1", "--epochs", "1",
             "--val-fraction", "0.25", "--preview-every", "0", "--quiet"]


def one_line_error(res, *words: str) -> str:
    """The command ended with status 1 and one `error:` line containing `words`, no traceback."""
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_existing_run_folder_needs_resume_or_overwrite(photos, tmp_path):
    """Row 1: a forgotten --resume must not train over a run's checkpoints."""
    run = tmp_path / "run"
    assert CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(run)]).exit_code == 0
    before = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt", "metrics.csv", "split.json")}
    res = CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(run)])
    one_line_error(res, str(run), "last.pt", "--resume", "--overwrite")
    assert {name: (run / name).read_bytes() for name in before} == before  # untouched

    (run / "previews").mkdir(exist_ok=True)
    (run / "previews" / "epoch_0009.png").write_bytes(b"a stale preview of the old run")
    (run / "notes.txt").write_text("the user's own file")
    res = CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(run), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert read_checkpoint(run / "last.pt")["epoch"] == 1 and (run / "last.pt").read_bytes() != before["last.pt"]
    assert not (run / "previews" / "epoch_0009.png").exists()  # the old run's files only
    assert (run / "notes.txt").read_text() == "the user's own file"
    res = CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(run), "--overwrite", "--resume"])
    assert res.exit_code == 2 and "exclude each other" in res.output


def test_run_folder_inside_the_data_is_refused(photos, tmp_path):
    """Row 1d: the next run would train on this one's previews."""
    run = photos / "sub" / "run"
    res = CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(run)])
    one_line_error(res, str(run), "inside the data folder")
    assert not run.exists()


def test_unwritable_run_folder_is_one_line_before_any_work(photos, tmp_path):
    """Row 4: --out an existing file, or on a read-only file system."""
    from _readonly import read_only_folder

    afile = tmp_path / "a-file"
    afile.write_text("x")
    one_line_error(CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(afile)]),
                   str(afile), "not a folder")
    with read_only_folder(tmp_path / "ro") as ro:
        line = one_line_error(CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(ro / "run")]),
                              str(ro / "run"), "cannot write the run folder")
        assert "read-only file system" in line or "permission denied" in line


def test_resume_refuses_other_data_or_options(photos, tmp_path):
    """Row 7: --resume with another DATA, --arch or --backbone says so instead of ignoring them."""
    run = tmp_path / "run"
    assert CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(run)]).exit_code == 0
    saved = (run / "last.pt").read_bytes()
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(skdata.coffee()).resize((96, 96)).save(other / "coffee.jpg")
    line = one_line_error(CliRunner().invoke(cli, [str(other), "--out", str(run), "--resume", "--quiet"]),
                          "--resume", "DATA", str(other))
    assert "--arch" not in line
    line = one_line_error(CliRunner().invoke(cli, [str(photos), "--out", str(run), "--resume", "--arch", "unet",
                                                    "--backbone", "mobilenetv3_small_100", "--quiet"]),
                          "--arch unet (the run's: seed)", "--backbone mobilenetv3_small_100 (the run's: test_efficientnet)")
    assert "DATA" not in line
    one_line_error(CliRunner().invoke(cli, [str(photos), "--out", str(run), "--resume", "--lr", "0.01", "--quiet"]),
                   "--lr 0.01 (the run's: 0.001)")
    assert (run / "last.pt").read_bytes() == saved
    # what may change: --epochs, --device, --workers; options given with the saved value are fine
    res = CliRunner().invoke(cli, [str(photos), "--out", str(run), "--resume", "--epochs", "2", "--workers", "0",
                                   "--device", "cpu", "--loss", "mse", *TINY, "--quiet"])
    assert res.exit_code == 0, res.output
    assert read_checkpoint(run / "last.pt")["epoch"] == 2


def test_only_unreadable_photos_are_each_named(tmp_path):
    """Row 5 and row 10: every skipped file named with its reason, as one plain line (no Python
    warning with file:line and source), and the run stops with one error line."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("a.jpg", "b.png", "c.png"):
        (bad / name).write_bytes(b"not an image at all")
    res = CliRunner().invoke(cli, [str(bad), *TINY, "--out", str(tmp_path / "run"), "--epochs", "1",
                                   "--val-fraction", "0", "--preview-every", "0"])
    assert res.exit_code == 1, res.output
    for name in ("a.jpg", "b.png", "c.png"):
        lines = [line for line in res.output.splitlines() if name in line]
        assert lines and lines[0].startswith("warning: ") and "cannot read image" in lines[0], res.output
    assert "UnreadableImageWarning" not in res.output and "warnings.warn" not in res.output
    one_line_error(res, "none of the 3 training images")


def test_help_shows_plain_percent_signs():
    """Row 10: click prints the help text as written; '%%' came out doubled."""
    res = CliRunner().invoke(cli, ["--help"])
    text = " ".join(res.output.split())  # click wraps the help to the terminal's width
    assert res.exit_code == 0 and "25-100% of the area" in text and "%%" not in text


def test_sigterm_stops_like_ctrl_c_with_the_resume_command(photos, tmp_path):
    """Docs, issue 22: a stop signal ends training with the resume command; last.pt is whole."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    run = tmp_path / "run"
    cmd = [sys.executable, "-c", "from colored.train_cli import cli; cli()", str(photos), *TINY, "--loss", "mse",
           "--batch-size", "2", "--steps-per-epoch", "1", "--epochs", "500", "--preview-every", "0", "--quiet",
           "--out", str(run)]
    proc = subprocess.Popen(cmd, cwd=repo, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(repo)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (run / "last.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "interrupted; continue with: colored-train" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    assert 1 <= read_checkpoint(run / "last.pt")["epoch"] < 500


def test_init_from_starts_a_new_run_from_another_runs_weights(photos, tmp_path):
    """--init-from: the new run's first weights are the checkpoint's (averaged) ones, with its own
    optimiser and epochs; a checkpoint of another network is one line, before any training."""
    first = tmp_path / "first"
    assert CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--out", str(first)]).exit_code == 0
    saved = read_checkpoint(first / "best.pt")
    cfg = TrainConfig(data=str(photos), out=str(tmp_path / "x"), loss="mse", backbone="test_efficientnet",
                      backbone_size=64, pretrained=False, image_size=64)
    from colored.train import _new_model, load_initial_weights

    model = _new_model(cfg)
    assert not torch.equal(model.state_dict()["head.weight"], saved["model"]["head.weight"])
    load_initial_weights(model, str(first / "best.pt"))
    assert all(torch.equal(v, saved["model"][k]) for k, v in model.state_dict().items())

    res = CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--lr", "0.0001", "--init-from", str(first / "best.pt"),
                                   "--out", str(tmp_path / "second")])
    assert res.exit_code == 0, res.output
    second = read_checkpoint(tmp_path / "second" / "last.pt")
    assert second["epoch"] == 1 and second["train_config"]["init_from"] == str(first / "best.pt")
    res = CliRunner().invoke(cli, [str(photos), *ONE_EPOCH, "--arch", "unet", "--init-from", str(first / "best.pt"),
                                   "--out", str(tmp_path / "third")])
    assert "arch unet (the checkpoint's: seed)" in one_line_error(res, "--init-from")
    assert not (tmp_path / "third" / "last.pt").exists()


def test_train_stages_fine_tunes_only_the_encoders_last_stages(photos, tmp_path):
    """--train-stages N: the unet encoder's last N stages and its classifier head learn (at the scaled
    learning rate), the earlier stages and every BatchNorm statistic stay as they started."""
    args = [str(photos), *ONE_EPOCH, "--arch", "unet", "--train-stages", "1", "--backbone-lr-scale", "0.5",
            "--fusion-init", "random"]  # zeroed class columns would give the classifier no gradient
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    from colored.train import _new_model

    start = _new_model(TrainConfig(**{**ckpt["train_config"], "out": str(tmp_path / "x")})).state_dict()
    trained = ckpt.get("train_model", ckpt["model"])
    last = max(int(k.split(".")[2]) for k in start if k.startswith("backbone.blocks."))
    changed = {k for k in start if start[k].is_floating_point() and not torch.equal(start[k], trained[k])}
    assert any(k.startswith(f"backbone.blocks.{last}.") for k in changed)
    assert any(k.startswith("backbone.classifier.") for k in changed)
    assert not any(k.startswith("backbone.blocks.") and int(k.split(".")[2]) < last for k in changed), sorted(changed)
    assert not any(k.startswith("backbone.") and ("running_" in k) for k in changed), sorted(changed)
    assert [g["lr"] for g in ckpt["optimizer"]["param_groups"]] == [pytest.approx(0.001), pytest.approx(0.0005)]

    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "seed"), "--arch", "seed"])
    assert "--train-stages" in one_line_error(res, "--train-stages")
