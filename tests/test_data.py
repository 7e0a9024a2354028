"""colored.data: folder scan, bad files, the same-augmented-image property, split determinism."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from colored.color import lab_to_rgb
from colored.data import (
    BadFileReporter,
    ColorizationDataset,
    DataError,
    UnreadableImageWarning,
    collate_skip_bad,
    find_images,
    load_rgb,
    split_files,
)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    Image.fromarray(skdata.astronaut()).save(tmp_path / "astronaut.JPG")
    Image.fromarray(skdata.coffee()).save(tmp_path / "a" / "coffee.png")
    Image.fromarray(skdata.chelsea()).save(tmp_path / "a" / "b" / "chelsea.webp")
    (tmp_path / "a" / "broken.jpg").write_bytes(b"this is not a jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    return tmp_path


def test_find_images_recursive_and_case_insensitive(folder):
    names = [p.name for p in find_images(folder)]
    assert sorted(names) == sorted(
        ["astronaut.JPG", "coffee.png", "chelsea.webp", "broken.jpg"]
    )


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no images found \\(looked for .jpg"):
        find_images(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        find_images(tmp_path / "missing")


def test_bad_file_is_skipped_with_one_warning(folder):
    ds = ColorizationDataset(find_images(folder), size=32)
    samples = [ds[i] for i in range(len(ds))] * 3  # three "epochs"
    report = BadFileReporter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(0, len(samples), 2):
            batch = collate_skip_bad(samples[i : i + 2])
            report(batch.bad)
            assert batch.L.shape[0] == len(batch.paths) and all("broken" not in p for p in batch.paths)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UnreadableImageWarning)]
    assert len(msgs) == 1 and "broken.jpg" in msgs[0] and "cannot read" in msgs[0]


def test_file_failing_mid_training_does_not_crash(folder):
    ds = ColorizationDataset([p for p in find_images(folder) if p.name != "broken.jpg"], size=32)
    assert all(ds[i].ok for i in range(len(ds)))
    (folder / "a" / "b" / "chelsea.webp").write_bytes(b"truncated")  # replaced after the scan
    bad = [ds[i] for i in range(len(ds)) if not ds[i].ok]
    assert [s.path.endswith("chelsea.webp") for s in bad] == [True]


def test_cache_drops_bad_files_with_a_warning(folder):
    with pytest.warns(UnreadableImageWarning, match="broken.jpg"):
        ds = ColorizationDataset(find_images(folder), size=32, cache=True)
    assert len(ds) == 3 and all(ds[i].ok for i in range(3))


def test_L_and_ab_come_from_the_same_augmented_image():
    ds = ColorizationDataset([], size=64, augment=True)
    ds.reseed(3)
    original = load_rgb_from_array(skdata.astronaut(), 64)
    seen = []
    real = ds.augment
    ds.augment = lambda rgb: seen.append(real(rgb)) or seen[-1]
    ds.load = lambda index: original
    ds.files = ["astronaut"]
    for _ in range(6):
        s = ds[0]
        aug = seen[-1]
        rgb = lab_to_rgb(torch.cat([s.L, s.ab]), channel_axis=0).permute(1, 2, 0).numpy()
        np.testing.assert_allclose(rgb, aug / 255.0, atol=2e-4)
    # the augmentation really changed something in at least one draw (flip/affine)
    assert any(np.abs(a.astype(int) - original).mean() > 5 for a in seen)


def load_rgb_from_array(arr, size):
    return np.asarray(Image.fromarray(arr).resize((size, size), Image.Resampling.BICUBIC))


def test_exif_orientation_is_applied(tmp_path):
    img = Image.fromarray(skdata.astronaut()[:, :256])  # 512 high, 256 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    upright = load_rgb(tmp_path / "rot.jpg", 64)
    expected = np.asarray(img.transpose(Image.Transpose.ROTATE_270).resize((64, 64)))
    assert np.abs(upright.astype(int) - expected).mean() < 10


def test_odd_modes_load_as_rgb(tmp_path):
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(tmp_path / "g16.png")
    Image.new("RGBA", (16, 16), (255, 0, 0, 0)).save(tmp_path / "alpha.png")
    Image.new("CMYK", (16, 16), (0, 255, 0, 0)).save(tmp_path / "cmyk.tif")
    g = load_rgb(tmp_path / "g16.png", 16)
    assert g.dtype == np.uint8 and g.shape == (16, 16, 3) and g.max() > 200
    assert load_rgb(tmp_path / "alpha.png", 8).min() == 255  # transparent over white
    assert load_rgb(tmp_path / "cmyk.tif", 8).shape == (8, 8, 3)


def test_split_is_deterministic_and_disjoint(folder):
    files = [folder / f"{i:03d}.jpg" for i in range(50)]
    tr1, va1 = split_files(files, 0.2, seed=7)
    tr2, va2 = split_files(list(reversed(files)), 0.2, seed=7)
    assert (tr1, va1) == (tr2, va2)
    assert len(va1) == 10 and not set(tr1) & set(va1) and set(tr1) | set(va1) == set(files)
    assert split_files(files, 0.2, seed=8)[1] != va1
    with pytest.raises(DataError, match="at least 2"):
        split_files(files[:1], 0.2, seed=0)


def test_crop_mode_keeps_aspect_and_gives_square_views(tmp_path):
    from colored.data import ColorizationDataset, centre_view, load_rgb_short_side

    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, :150] = (200, 30, 30)  # left half red, right half black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    kept = load_rgb_short_side(tmp_path / "wide.png", 50)
    assert kept.shape == (50, 100, 3)  # 150 wide at short side 50, long side capped at 2x
    centre = centre_view(kept, 32)
    assert centre.shape == (32, 32, 3)
    assert centre[:, :10].mean() > 50 and centre[:, -10:].mean() < 5  # the middle of the photo
    train = ColorizationDataset([tmp_path / "wide.png"], 32, augment=True, cache=True, crop_from=50)
    train.reseed(0)
    views = [train[0] for _ in range(6)]
    assert all(v.L.shape == (1, 32, 32) and v.ab.shape == (2, 32, 32) for v in views)
    assert len({round(float(v.L.mean()), 3) for v in views}) > 1  # random crops differ
    plain = train.plain()
    assert plain._cache is train._cache and plain.transform is None
    assert torch.equal(plain[0].L, plain[0].L)


def test_crop_from_smaller_than_size_is_refused(tmp_path):
    from colored.data import ColorizationDataset

    with pytest.raises(DataError, match="--crop-from 16"):
        ColorizationDataset([], 32, crop_from=16)


def test_tone_jitter_changes_lightness_only_and_is_seeded(folder):
    """--tone-jitter re-renders L (tone curve, blur, grain) of the same crop; the colour target, the
    crop itself and the plain view are untouched, and a reseed replays the same views."""
    files = [folder / "astronaut.JPG", folder / "a" / "coffee.png"]
    plain_aug = ColorizationDataset(files, 48, augment=True, cache=True, crop_from=64)
    toned = ColorizationDataset(files, 48, augment=True, cache=True, crop_from=64, tone_jitter=1.0)
    plain_aug.reseed(5)
    toned.reseed(5)
    a = [plain_aug[i % 2] for i in range(6)]
    b = [toned[i % 2] for i in range(6)]
    assert all(torch.equal(x.ab, y.ab) for x, y in zip(a, b))  # same crops, same colours
    assert all(not torch.equal(x.L, y.L) for x, y in zip(a, b))  # another rendering of the lightness
    assert all(0.0 <= float(y.L.min()) and float(y.L.max()) <= 100.0 for y in b)
    # The tone change is a monotone curve plus a little blur and grain: the scene stays recognisable.
    corr = [np.corrcoef(x.L.flatten(), y.L.flatten())[0, 1] for x, y in zip(a, b)]
    assert min(corr) > 0.8
    toned.reseed(5)
    assert all(torch.equal(y.L, toned[i % 2].L) for i, y in enumerate(b))
    assert toned.plain().tone is None and torch.equal(toned.plain()[0].L, plain_aug.plain()[0].L)
    assert ColorizationDataset(files, 48, augment=False, tone_jitter=1.0).tone is None  # validation: never
