"""Seeded two-view augmentations for images and tabular rows.

Every augmentation is a callable ``augment(X, generator=None)`` that returns a
new batch of the same shape, dtype and device as ``X``; the randomness comes
from ``generator`` alone, so one seed gives the same views on every run.
Random numbers are drawn on the generator's device and moved to ``X``'s, so a
CPU generator also drives augmentations of a batch on the GPU.

Image augmentations take batches of shape ``(n, c, h, w)``, or flat rows
``(n, h * w)`` of square single-channel images (the layout of
``sklearn.datasets.load_digits``), and return the layout they were given.
"""

import math
import numbers

import torch

from .encoders import to_images

__all__ = [
    "AmplitudeScaling",
    "CircularShift",
    "Compose",
    "FeatureMasking",
    "GaussianNoise",
    "RandomErasing",
    "RandomShift",
    "TimeStretch",
    "TwoViews",
    "check_generator",
]


def check_generator(random_state=None):
    """A ``torch.Generator`` from a seed, a generator, or None.

    Parameters
    ----------
    random_state : int, torch.Generator or None, default=None
        An int seeds a new CPU generator; a generator is returned as it is;
        None seeds a new CPU generator from torch's global random stream, so
        ``torch.manual_seed`` makes it reproducible.

    Returns
    -------
    generator : torch.Generator

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import check_generator
    >>> a = torch.rand(3, generator=check_generator(0))
    >>> b = torch.rand(3, generator=check_generator(0))
    >>> torch.equal(a, b)
    True
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    if random_state is None:
        seed = int(torch.randint(2**62, ()))
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
    else:
        raise ValueError(
            f"random_state must be an int, a torch.Generator or None; got {random_state!r}."
        )
    return torch.Generator().manual_seed(seed)


def _uniform(shape, generator, like):
    return torch.rand(shape, generator=generator, device=generator.device).to(like.device)


def _integers(low, high, shape, generator, like):
    """Uniform integers in ``[low, high)``."""
    draws = torch.randint(low, high, shape, generator=generator, device=generator.device)
    return draws.to(like.device)


class GaussianNoise:
    """Adds ``N(0, std^2)`` noise to every entry (images or tabular rows).

    Parameters
    ----------
    std : float, default=0.1

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import GaussianNoise
    >>> X = torch.zeros(2000, 3)
    >>> round(GaussianNoise(std=0.5)(X, generator=0).std().item(), 1)
    0.5
    """

    def __init__(self, std=0.1):
        if not std >= 0:
            raise ValueError(f"std must be >= 0; got {std!r}.")
        self.std = std

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        noise = torch.randn(X.shape, generator=generator, device=generator.device)
        return X + self.std * noise.to(X)

    def __repr__(self):
        return f"GaussianNoise(std={self.std!r})"


class FeatureMasking:
    """Sets each entry, independently with probability ``rate``, to ``value``.

    For tabular rows (a feature dropped from a row) and, entry by entry, for
    flat images.

    Parameters
    ----------
    rate : float, default=0.2
        Probability, in ``[0, 1]``, that an entry is masked.
    value : float, default=0.0
        What a masked entry becomes (0 is the mean of standardised features).

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import FeatureMasking
    >>> masked = FeatureMasking(rate=0.25)(torch.ones(200, 100), generator=0)
    >>> round((masked == 0).float().mean().item(), 2)
    0.25
    """

    def __init__(self, rate=0.2, value=0.0):
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1]; got {rate!r}.")
        self.rate = rate
        self.value = value

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        mask = _uniform(X.shape, generator, X) < self.rate
        return X.masked_fill(mask, self.value)

    def __repr__(self):
        return f"FeatureMasking(rate={self.rate!r}, value={self.value!r})"


class RandomShift:
    """Shifts each image by a uniform integer offset in ``[-max_shift, max_shift]`` per axis.

    The pad-and-crop augmentation: the image is padded by ``max_shift``
    pixels of ``fill`` on every side and cropped back to its size at a
    random position, so output pixel ``(i, j)`` is input pixel
    ``(i - dy, j - dx)``, or ``fill`` where that lies outside the image. The
    two offsets are drawn independently for every image; all channels of an
    image move together.

    Parameters
    ----------
    max_shift : int, default=4
    fill : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import RandomShift
    >>> image = torch.zeros(1, 1, 5, 5)
    >>> image[0, 0, 2, 2] = 1.0
    >>> shifted = RandomShift(max_shift=1)(image, generator=0)
    >>> shifted.shape, shifted.sum().item()
    (torch.Size([1, 1, 5, 5]), 1.0)
    """

    def __init__(self, max_shift=4, fill=0.0):
        if not isinstance(max_shift, numbers.Integral) or max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative integer; got {max_shift!r}.")
        self.max_shift = int(max_shift)
        self.fill = fill

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        images = to_images(X)
        n, c, h, w = images.shape
        s = self.max_shift
        padded = torch.nn.functional.pad(images, (s, s, s, s), value=self.fill)
        # Crop offset o in [0, 2s] is the shift s - o; output pixel i reads padded row i + o.
        offsets = _integers(0, 2 * s + 1, (2, n), generator, X)
        rows = offsets[0][:, None] + torch.arange(h, device=X.device)
        columns = offsets[1][:, None] + torch.arange(w, device=X.device)
        shifted = padded[
            torch.arange(n, device=X.device)[:, None, None, None],
            torch.arange(c, device=X.device)[None, :, None, None],
            rows[:, None, :, None],
            columns[:, None, None, :],
        ]
        return shifted.reshape(X.shape)

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift!r}, fill={self.fill!r})"


class RandomErasing:
    """With probability ``p``, sets a random rectangle of each image to ``value``.

    The rectangle's height and width are uniform integers in
    ``[1, ceil(max_fraction * side)]`` and its position is uniform among
    those that keep it inside the image; all channels are erased together
    (Zhong et al., 2020, with a simpler choice of shape).

    Parameters
    ----------
    p : float, default=0.5
        Probability, in ``[0, 1]``, that an image is erased at all.
    max_fraction : float, default=0.5
        Largest side of the rectangle as a fraction, in ``(0, 1]``, of the image's.
    value : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import RandomErasing
    >>> erased = RandomErasing(p=1.0)(torch.ones(3, 1, 8, 8), generator=0)
    >>> bool(((erased == 0).flatten(1).sum(1) > 0).all())
    True
    """

    def __init__(self, p=0.5, max_fraction=0.5, value=0.0):
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1]; got {p!r}.")
        if not 0 < max_fraction <= 1:
            raise ValueError(f"max_fraction must be in (0, 1]; got {max_fraction!r}.")
        self.p = p
        self.max_fraction = max_fraction
        self.value = value

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        images = to_images(X)
        n, h, w = images.shape[0], images.shape[2], images.shape[3]
        draws = _uniform((5, n), generator, X)
        masks = []
        for side, size_draw, start_draw in ((h, draws[0], draws[1]), (w, draws[2], draws[3])):
            largest = math.ceil(self.max_fraction * side)
            # u * largest can round up to largest in float32: clamp keeps u in [0, 1) honest.
            length = 1 + (size_draw * largest).long().clamp(max=largest - 1)
            start = (start_draw * (side - length + 1)).long().clamp(max=side - length)
            positions = torch.arange(side, device=X.device)
            masks.append((positions >= start[:, None]) & (positions < (start + length)[:, None]))
        erase = (draws[4] < self.p)[:, None, None] & masks[0][:, :, None] & masks[1][:, None, :]
        return images.masked_fill(erase[:, None], self.value).reshape(X.shape)

    def __repr__(self):
        return (
            f"RandomErasing(p={self.p!r}, max_fraction={self.max_fraction!r}, value={self.value!r})"
        )


def _signals(X):
    """``(n, c, t)`` view of a batch of 1-D signals given as ``(n, t)`` or ``(n, c, t)``."""
    if X.dim() == 2:
        return X[:, None, :]
    if X.dim() == 3:
        return X
    raise ValueError(f"Expected signals of shape (n, t) or (n, c, t); got shape {tuple(X.shape)}.")


class CircularShift:
    """Rolls each signal by a uniform integer number of steps in ``[-max_shift, max_shift]``.

    Output step ``t`` is input step ``(t - s) mod T``: what leaves one end
    comes back at the other, so a periodic signal keeps its shape whatever
    the shift. ``max_shift=None`` allows any shift (uniform over the ``T``
    rotations). All channels of a signal move together.

    Parameters
    ----------
    max_shift : int or None, default=None

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import CircularShift
    >>> shifted = CircularShift()(torch.arange(6.0).repeat(3, 1), generator=0)
    >>> bool((shifted.sort(dim=1).values == torch.arange(6.0)).all())  # a rotation of each row
    True
    """

    def __init__(self, max_shift=None):
        if max_shift is not None and (not isinstance(max_shift, numbers.Integral) or max_shift < 0):
            raise ValueError(
                f"max_shift must be a non-negative integer or None; got {max_shift!r}."
            )
        self.max_shift = max_shift

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        signals = _signals(X)
        n, _, length = signals.shape
        if self.max_shift is None:
            shifts = _integers(0, length, (n,), generator, X)
        else:
            shifts = _integers(-self.max_shift, self.max_shift + 1, (n,), generator, X)
        source = (torch.arange(length, device=X.device) - shifts[:, None]) % length
        return signals.gather(2, source[:, None, :].expand_as(signals)).reshape(X.shape)

    def __repr__(self):
        return f"CircularShift(max_shift={self.max_shift!r})"


def _log_uniform(n, max_factor, generator, like):
    """``n`` factors log-uniform in ``[1 / max_factor, max_factor]``, in ``like``'s dtype."""
    log_factor = (2.0 * _uniform((n,), generator, like) - 1.0) * math.log(max_factor)
    return torch.exp(log_factor).to(like.dtype)


def _check_factor(max_factor):
    if not max_factor >= 1:
        raise ValueError(f"max_factor must be >= 1; got {max_factor!r}.")
    return max_factor


class TimeStretch:
    """Resamples each signal at a rate drawn log-uniformly in ``[1 / max_factor, max_factor]``.

    Output step ``t`` reads the input at ``r * (t - c) + c``, ``c`` the
    centre, with linear interpolation; ``r > 1`` compresses the signal (it
    shows more cycles), ``r < 1`` stretches it. Reads past either end wrap
    around, as :class:`CircularShift` does, so nothing is padded.

    Parameters
    ----------
    max_factor : float, default=1.25
        At least 1; 1 leaves the signals as they are.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import TimeStretch
    >>> ramp = torch.linspace(0.0, 1.0, 9).repeat(2, 1)
    >>> TimeStretch(max_factor=1.0)(ramp, generator=0).allclose(ramp)
    True
    """

    def __init__(self, max_factor=1.25):
        self.max_factor = _check_factor(max_factor)

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        signals = _signals(X)
        n, _, length = signals.shape
        rates = _log_uniform(n, self.max_factor, generator, signals)
        centre = 0.5 * (length - 1)
        steps = torch.arange(length, device=X.device, dtype=signals.dtype)
        positions = rates[:, None] * (steps - centre) + centre
        below = torch.floor(positions)
        fraction = (positions - below)[:, None, :]
        below = below.long() % length
        above = (below + 1) % length
        lower = signals.gather(2, below[:, None, :].expand_as(signals))
        upper = signals.gather(2, above[:, None, :].expand_as(signals))
        return torch.lerp(lower, upper, fraction).reshape(X.shape)

    def __repr__(self):
        return f"TimeStretch(max_factor={self.max_factor!r})"


class AmplitudeScaling:
    """Multiplies each row by a factor drawn log-uniformly in ``[1 / max_factor, max_factor]``.

    Parameters
    ----------
    max_factor : float, default=1.5
        At least 1; 1 leaves the rows as they are.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import AmplitudeScaling
    >>> scaled = AmplitudeScaling(max_factor=2.0)(torch.ones(500, 4), generator=0)
    >>> bool((scaled >= 0.5).all() and (scaled <= 2.0).all())
    True
    >>> bool((scaled[:, 0:1] == scaled).all())  # one factor per row
    True
    """

    def __init__(self, max_factor=1.5):
        self.max_factor = _check_factor(max_factor)

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        factors = _log_uniform(X.shape[0], self.max_factor, generator, X)
        return X * factors.view(-1, *([1] * (X.dim() - 1)))

    def __repr__(self):
        return f"AmplitudeScaling(max_factor={self.max_factor!r})"


class Compose:
    """Applies augmentations one after the other, all from the same generator.

    Parameters
    ----------
    *augmentations : callables ``(X, generator) -> X``

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import Compose, GaussianNoise, RandomShift
    >>> augment = Compose(RandomShift(max_shift=2), GaussianNoise(std=0.05))
    >>> augment(torch.zeros(4, 64), generator=0).shape
    torch.Size([4, 64])
    """

    def __init__(self, *augmentations):
        self.augmentations = augmentations

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        for augmentation in self.augmentations:
            X = augmentation(X, generator)
        return X

    def __repr__(self):
        return f"Compose({', '.join(map(repr, self.augmentations))})"


class TwoViews:
    """Two independently augmented views of the same batch: ``(view_a, view_b)``.

    Parameters
    ----------
    augment : callable ``(X, generator) -> X``
        Makes the first view, and the second too unless ``augment_b`` is given.
    augment_b : callable, default=None
        An augmentation of its own for the second view (asymmetric views).

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.augment import GaussianNoise, TwoViews
    >>> views = TwoViews(GaussianNoise(std=0.1))
    >>> view_a, view_b = views(torch.zeros(4, 3), generator=0)
    >>> view_a.shape, torch.equal(view_a, view_b)
    (torch.Size([4, 3]), False)
    """

    def __init__(self, augment, augment_b=None):
        self.augment = augment
        self.augment_b = augment_b

    def __call__(self, X, generator=None):
        generator = check_generator(generator)
        second = self.augment if self.augment_b is None else self.augment_b
        return self.augment(X, generator), second(X, generator)

    def __repr__(self):
        if self.augment_b is None:
            return f"TwoViews({self.augment!r})"
        return f"TwoViews({self.augment!r}, augment_b={self.augment_b!r})"
