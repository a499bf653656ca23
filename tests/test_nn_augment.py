"""Two-view augmentations of skgmje.nn.augment: each transform's distribution, seeding
from one generator, and the pairs of views of the joint-embedding objectives."""

import numpy as np
import pytest
import torch
from scipy import stats

from skgmje.nn.augment import (
    AmplitudeScaling,
    CircularShift,
    Compose,
    FeatureMasking,
    GaussianNoise,
    RandomErasing,
    RandomShift,
    TimeStretch,
    TwoViews,
    check_generator,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _shift_reference(image, dy, dx):
    """``out[i, j] = image[i - dy, j - dx]``, zero outside: a shift written with slices."""
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


# --- images and tables -----------------------------------------------------------------------


def _images_with_a_marker(n_images, channels=1, side=16, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.uniform(size=(n_images, channels, side, side)).astype(np.float32)
    images[:, :, side // 2, side // 2] = 10.0  # the one pixel above 1: where the image went
    return images


def test_random_shift_moves_each_image_rigidly_by_a_uniform_offset():
    images = _images_with_a_marker(2000, channels=2)
    shifted = RandomShift(max_shift=4)(torch.from_numpy(images), generator=0).numpy()
    assert shifted.shape == images.shape and shifted.dtype == np.float32
    marker = np.argwhere(shifted[:, 0] == 10.0)
    assert len(marker) == 2000 and np.array_equal(marker[:, 0], np.arange(2000))
    offsets = marker[:, 1:] - 8
    assert np.abs(offsets).max() == 4
    for k in range(300):
        dy, dx = offsets[k]
        np.testing.assert_array_equal(shifted[k], _shift_reference(images[k], dy, dx))
    cells = np.bincount((offsets[:, 0] + 4) * 9 + offsets[:, 1] + 4, minlength=81)
    assert stats.chisquare(cells).pvalue > 1e-3  # all 81 offsets, equally often


def test_random_shift_on_flat_rows_equals_the_image_batch_and_zero_is_identity():
    X = torch.from_numpy(_images_with_a_marker(50))
    flat = X.reshape(50, -1)
    shift = RandomShift(max_shift=3, fill=-1.0)
    torch.testing.assert_close(shift(flat, generator=7), shift(X, generator=7).reshape(50, -1))
    assert (shift(flat, generator=7) == -1.0).any()  # the fill value enters at the borders
    torch.testing.assert_close(RandomShift(max_shift=0)(flat, generator=7), flat)


def test_gaussian_noise_has_the_requested_scale_and_keeps_the_dtype():
    X = torch.full((400, 50), 2.0, dtype=torch.float64)
    noisy = GaussianNoise(std=0.3)(X, generator=0)
    assert noisy.dtype == torch.float64 and noisy.shape == X.shape
    noise = (noisy - X).flatten().numpy()
    assert abs(noise.mean()) < 4 * 0.3 / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(0.3, rel=0.03)
    assert stats.kstest(noise / 0.3, "norm").pvalue > 1e-3


def test_feature_masking_masks_at_the_requested_rate():
    X = torch.rand(100, 100) + 1.0
    masked = FeatureMasking(rate=0.3, value=-5.0)(X, generator=0)
    hit = masked == -5.0
    assert torch.equal(masked[~hit], X[~hit])
    assert stats.binomtest(int(hit.sum()), hit.numel(), 0.3).pvalue > 1e-3
    assert torch.equal(FeatureMasking(rate=0.0)(X, generator=0), X)
    assert torch.all(FeatureMasking(rate=1.0)(X, generator=0) == 0.0)


def test_random_erasing_erases_one_rectangle_in_a_share_p_of_the_images():
    X = torch.ones(1000, 2, 10, 10)
    erased = RandomErasing(p=0.4, max_fraction=0.5)(X, generator=0)
    zero = erased == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # channels erased together
    zero = zero[:, 0]
    hit = zero.flatten(1).any(1)
    assert stats.binomtest(int(hit.sum()), 1000, 0.4).pvalue > 1e-3
    rows, columns = zero.any(2), zero.any(1)
    # A rectangle: the mask is the outer product of its rows and columns, both contiguous.
    assert torch.equal(zero, rows[:, :, None] & columns[:, None, :])
    for mask in (rows[hit], columns[hit]):
        lengths = mask.sum(1)
        first = mask.float().argmax(1)
        assert torch.equal(mask.cumsum(1).amax(1), lengths)
        assert torch.all(mask[torch.arange(len(mask)), first + lengths - 1])
        assert set(lengths.tolist()) == {1, 2, 3, 4, 5}  # up to ceil(0.5 * 10)
    flat = RandomErasing(p=1.0)(torch.ones(5, 64), generator=1)
    assert flat.shape == (5, 64) and bool((flat == 0).any(1).all())


@pytest.mark.parametrize(
    "augment",
    [
        GaussianNoise(0.1),
        FeatureMasking(0.5),
        RandomShift(2),
        RandomErasing(0.5),
        Compose(RandomShift(2), GaussianNoise(0.1)),
        CircularShift(),
        TimeStretch(1.5),
        AmplitudeScaling(2.0),
    ],
    ids=repr,
)
def test_augmentations_are_reproducible_from_a_seed(augment):
    X = torch.rand(6, 64)
    torch.testing.assert_close(augment(X, generator=3), augment(X, generator=3))
    generator = torch.Generator().manual_seed(3)
    first, second = augment(X, generator), augment(X, generator)
    assert not torch.equal(first, second)  # a generator moves on between calls
    torch.testing.assert_close(first, augment(X, generator=3))
    torch.manual_seed(11)
    unseeded = augment(X)
    torch.manual_seed(11)
    torch.testing.assert_close(augment(X), unseeded)  # None follows torch.manual_seed


def test_compose_applies_in_order_from_one_generator():
    X = torch.rand(4, 64)
    shift, noise = RandomShift(2), GaussianNoise(0.2)
    generator = torch.Generator().manual_seed(5)
    expected = noise(shift(X, generator), generator)
    torch.testing.assert_close(Compose(shift, noise)(X, generator=5), expected)


def test_two_views_are_two_draws_of_the_augmentation():
    X = torch.rand(8, 64)
    augment = Compose(RandomShift(2), GaussianNoise(0.1))
    view_a, view_b = TwoViews(augment)(X, generator=0)
    generator = torch.Generator().manual_seed(0)
    torch.testing.assert_close(view_a, augment(X, generator))
    torch.testing.assert_close(view_b, augment(X, generator))
    assert not torch.equal(view_a, view_b)
    again = TwoViews(augment)(X, generator=0)
    torch.testing.assert_close(again[0], view_a)
    torch.testing.assert_close(again[1], view_b)
    clean_a, clean_b = TwoViews(augment, augment_b=lambda X, generator: X)(X, generator=0)
    assert torch.equal(clean_b, X) and not torch.equal(clean_a, X)


@pytest.mark.parametrize("device", DEVICES)
def test_a_cpu_generator_augments_a_batch_on_any_device(device):
    X = torch.rand(4, 64)
    augment = Compose(RandomShift(2), RandomErasing(0.5), FeatureMasking(0.2), GaussianNoise(0.1))
    out = augment(X.to(device), generator=2)
    assert out.device.type == device
    torch.testing.assert_close(out.cpu(), augment(X, generator=2))


def test_check_generator_accepts_seeds_and_generators_only():
    generator = torch.Generator()
    assert check_generator(generator) is generator
    assert torch.equal(
        torch.rand(3, generator=check_generator(np.int64(4))),
        torch.rand(3, generator=torch.Generator().manual_seed(4)),
    )
    for bad in ("0", 1.5, True):
        with pytest.raises(ValueError, match="random_state"):
            check_generator(bad)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GaussianNoise(std=-1.0), "std"),
        (lambda: FeatureMasking(rate=1.5), "rate"),
        (lambda: RandomShift(max_shift=-1), "max_shift"),
        (lambda: RandomShift(max_shift=1.5), "max_shift"),
        (lambda: RandomErasing(p=2.0), "p must"),
        (lambda: RandomErasing(max_fraction=0.0), "max_fraction"),
        (lambda: CircularShift(max_shift=-2), "max_shift"),
        (lambda: TimeStretch(max_factor=0.5), "max_factor"),
        (lambda: AmplitudeScaling(max_factor=0.9), "max_factor"),
    ],
)
def test_invalid_augmentation_parameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- 1-D signals ------------------------------------------------------------------------------


def test_circular_shift_rolls_each_signal_rigidly_within_max_shift():
    X = torch.rand(50, 2, 16)
    shifted = CircularShift(max_shift=3)(X, generator=0)
    for signal, out in zip(X, shifted):
        shifts = [s for s in range(-3, 4) if torch.equal(torch.roll(signal, s, dims=-1), out)]
        assert len(shifts) == 1  # both channels move by the same shift
    rows = torch.rand(200, 16)
    rolled = CircularShift()(rows, generator=1)
    found = [
        next(s for s in range(16) if torch.equal(torch.roll(r, s), o)) for r, o in zip(rows, rolled)
    ]
    assert len(set(found)) == 16  # any rotation can occur
    assert torch.equal(CircularShift(max_shift=0)(rows, generator=1), rows)


def test_time_stretch_resamples_the_cycle_count_by_the_drawn_rate():
    steps = torch.arange(256.0)
    sines = torch.sin(2 * torch.pi * 8 * steps / 256).repeat(400, 1)
    stretched = TimeStretch(max_factor=1.5)(sines, generator=0)
    # Cycles per window from the dominant Fourier bin; the centre keeps its phase.
    cycles = torch.fft.rfft(stretched[:, 64:192]).abs()[:, 1:].argmax(1).float() + 1
    assert 0.5 * 8 / 1.5 - 1 <= cycles.min() and cycles.max() <= 0.5 * 8 * 1.5 + 1
    assert cycles.std() > 0.5  # rates differ between signals
    torch.testing.assert_close(stretched[:, 128], sines[:, 128], atol=0.15, rtol=0)
    torch.testing.assert_close(TimeStretch(max_factor=1.0)(sines, generator=0), sines)


def test_amplitude_scaling_is_one_log_uniform_factor_per_row():
    factors = AmplitudeScaling(max_factor=2.0)(torch.ones(4000, 3), generator=0)
    assert bool((factors == factors[:, :1]).all())
    result = stats.kstest(
        np.log(factors[:, 0].numpy()), stats.uniform(-np.log(2), 2 * np.log(2)).cdf
    )
    assert result.pvalue > 1e-3
