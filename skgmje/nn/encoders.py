"""Encoders for joint embeddings: an MLP, small CNNs for digits and 1-D signals, a CIFAR ResNet-18.

Every encoder maps a batch to embeddings of shape ``(n, n_outputs)``. Image
encoders take ``(n, c, h, w)`` batches or flat rows ``(n, c * h * w)`` of
square images (see :func:`to_images`), so the flat arrays of scikit-learn
(``load_digits().data``, :func:`skgmje.datasets.make_translated_digits`) go
in as they are.
"""

import math

from torch import nn

from .mdn import ACTIVATIONS

__all__ = [
    "BasicBlock",
    "Conv1dEncoder",
    "ConvEncoder",
    "MLPEncoder",
    "ResNet18",
    "to_images",
]


def to_images(X, in_channels=1):
    """Views flat rows of square images as an ``(n, c, h, w)`` batch.

    Parameters
    ----------
    X : Tensor of shape (n, c, h, w) or (n, c * side * side)
        Four-dimensional batches are returned as they are.
    in_channels : int, default=1
        ``c``, to read flat rows (stored channel by channel, as ``X.reshape(n, -1)``
        of an image batch).

    Returns
    -------
    images : Tensor of shape (n, c, h, w)
        A view of ``X``, not a copy.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.encoders import to_images
    >>> to_images(torch.zeros(5, 64)).shape
    torch.Size([5, 1, 8, 8])
    """
    if X.dim() == 4:
        return X
    if X.dim() == 2:
        side = math.isqrt(X.shape[1] // in_channels)
        if in_channels * side * side == X.shape[1]:
            return X.view(X.shape[0], in_channels, side, side)
    raise ValueError(
        f"Expected images of shape (n, c, h, w) or flat rows of {in_channels} square "
        f"channel(s); got shape {tuple(X.shape)}."
    )


class MLPEncoder(nn.Module):
    """A multilayer perceptron ``n_inputs -> hidden... -> n_outputs`` (no activation at the end).

    Image batches ``(n, c, h, w)`` are flattened first, so one encoder serves
    flat rows and images alike.

    Parameters
    ----------
    n_inputs : int
    hidden : int or tuple of int
        Width of each hidden layer, e.g. ``(512, 256)``; ``()`` gives a linear map.
    n_outputs : int
    activation : {"relu", "tanh", "gelu", "silu"}, default="relu"

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.encoders import MLPEncoder
    >>> encoder = MLPEncoder(196, (512, 256), 32)
    >>> encoder(torch.zeros(4, 196)).shape
    torch.Size([4, 32])
    """

    def __init__(self, n_inputs, hidden, n_outputs, activation="relu"):
        super().__init__()
        widths = [n_inputs, *((hidden,) if isinstance(hidden, int) else hidden)]
        layers = [nn.Flatten()]
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


def _conv_bn_relu(channels_in, channels_out, stride=1):
    return [
        nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    ]


class ConvEncoder(nn.Module):
    """A small CNN for little single-channel images such as the 8x8 digits.

    Three 3x3 convolutions (each with batch norm and ReLU; the second with
    stride 2), global average pooling, then a linear map to ``n_outputs``.
    Its receptive field is 9x9, enough to see a whole 8x8 digit, and the
    global pooling makes the features nearly invariant to where the digit
    sits on a larger canvas (exactly so for even shifts away from the
    borders), the invariance that translated digits ask for. Any image size
    works (8x8, 14x14, ...).

    Parameters
    ----------
    n_outputs : int
    channels : tuple of three int, default=(32, 64, 64)
        Output channels of the three convolutions.
    in_channels : int, default=1

    Notes
    -----
    Input: ``(n, in_channels, h, w)``, or flat rows ``(n, in_channels * side**2)``
    of square images (see :func:`to_images`).

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.encoders import ConvEncoder
    >>> encoder = ConvEncoder(16)
    >>> encoder(torch.zeros(4, 196)).shape           # flat 14x14 rows
    torch.Size([4, 16])
    >>> encoder(torch.zeros(4, 1, 8, 8)).shape       # an 8x8 image batch
    torch.Size([4, 16])
    """

    def __init__(self, n_outputs, channels=(32, 64, 64), in_channels=1):
        super().__init__()
        first, second, third = channels
        self.in_channels = in_channels
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, first),
            *_conv_bn_relu(first, second, stride=2),
            *_conv_bn_relu(second, third),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(third, n_outputs)

    def forward(self, X):
        return self.head(self.features(to_images(X, self.in_channels)))


def _conv1d_bn_relu(channels_in, channels_out, kernel_size, stride=1):
    return [
        nn.Conv1d(
            channels_in,
            channels_out,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=False,
        ),
        nn.BatchNorm1d(channels_out),
        nn.ReLU(inplace=True),
    ]


class Conv1dEncoder(nn.Module):
    """A small 1-D CNN for sequences and sensor windows.

    Three 1-D convolutions (each with batch norm and ReLU; the second and
    third with stride 2), global average pooling over time, then a linear
    map to ``n_outputs``. The pooling makes the features nearly invariant to
    where a pattern sits in the window, and any window length works.

    Parameters
    ----------
    n_outputs : int
    channels : tuple of three int, default=(16, 32, 32)
        Output channels of the three convolutions.
    kernel_size : int, default=7
        Odd width of every convolution (the receptive field is ``5 * (kernel_size - 1) + 1``).
    in_channels : int, default=1
        Channels of a signal; flat rows ``(n, in_channels * t)`` hold them one after the other.

    Notes
    -----
    Input: ``(n, in_channels, t)``, or flat rows ``(n, in_channels * t)``.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.encoders import Conv1dEncoder
    >>> encoder = Conv1dEncoder(16)
    >>> encoder(torch.zeros(4, 128)).shape           # flat windows of 128 steps
    torch.Size([4, 16])
    >>> Conv1dEncoder(8, in_channels=3)(torch.zeros(4, 3, 50)).shape
    torch.Size([4, 8])
    """

    def __init__(self, n_outputs, channels=(16, 32, 32), kernel_size=7, in_channels=1):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer; got {kernel_size!r}.")
        first, second, third = channels
        self.in_channels = in_channels
        self.features = nn.Sequential(
            *_conv1d_bn_relu(in_channels, first, kernel_size),
            *_conv1d_bn_relu(first, second, kernel_size, stride=2),
            *_conv1d_bn_relu(second, third, kernel_size, stride=2),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(third, n_outputs)

    def forward(self, X):
        if X.dim() == 2:
            if X.shape[1] % self.in_channels:
                raise ValueError(
                    f"Flat rows of {X.shape[1]} values do not split into "
                    f"{self.in_channels} channels."
                )
            X = X.view(X.shape[0], self.in_channels, -1)
        return self.head(self.features(X))


class BasicBlock(nn.Module):
    """The two-convolution residual block of ResNet-18 (He et al., 2016).

    Parameters
    ----------
    channels_in, channels_out : int
    stride : int, default=1
        A stride or a change of width puts a 1x1 convolution on the shortcut.
    """

    def __init__(self, channels_in, channels_out, stride=1):
        super().__init__()
        self.residual = nn.Sequential(
            *_conv_bn_relu(channels_in, channels_out, stride),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels_out),
        )
        self.shortcut = nn.Sequential()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels_out),
            )
        self.activation = nn.ReLU(inplace=True)

    def forward(self, X):
        return self.activation(self.residual(X) + self.shortcut(X))


class ResNet18(nn.Module):
    """The CIFAR variant of ResNet-18: a 3x3 stride-1 stem and no max-pool.

    The ImageNet stem (7x7 stride-2 convolution, then a max-pool) shrinks a
    32x32 image to 8x8 before the first block; the CIFAR stem keeps 32x32, so
    the four stages see 32, 16, 8 and 4 pixels a side. The 512 pooled
    features go through a linear map to ``n_outputs``. Meant for a GPU: on
    CPU it is slow to train.

    Parameters
    ----------
    n_outputs : int
    in_channels : int, default=3

    Notes
    -----
    Input: ``(n, in_channels, h, w)``, or flat rows ``(n, in_channels * side**2)``
    (see :func:`to_images`); 32x32 for CIFAR-10.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.encoders import ResNet18
    >>> encoder = ResNet18(n_outputs=128).eval()
    >>> encoder(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 128])
    """

    def __init__(self, n_outputs, in_channels=3):
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(*_conv_bn_relu(in_channels, 64))
        stages, width = [], 64
        for width_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks = BasicBlock(width, width_out, stride), BasicBlock(width_out, width_out)
            stages.append(nn.Sequential(*blocks))
            width = width_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(512, n_outputs)

    def forward(self, X):
        return self.head(self.pool(self.stages(self.stem(to_images(X, self.in_channels)))))
