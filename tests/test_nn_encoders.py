"""The encoders of skgmje.nn.encoders: shapes, flat rows or batches, shift behaviour."""

import pytest
import torch

from skgmje.nn.encoders import Conv1dEncoder, ConvEncoder, MLPEncoder, ResNet18, to_images

# --- encoders --------------------------------------------------------------------------------


def test_to_images_views_flat_rows_as_square_images():
    flat = torch.arange(2 * 3 * 16.0).reshape(2, 48)
    images = to_images(flat, in_channels=3)
    assert images.shape == (2, 3, 4, 4) and images.data_ptr() == flat.data_ptr()
    assert images[1, 2, 3, 0].item() == flat[1, 2 * 16 + 3 * 4].item()
    with pytest.raises(ValueError, match="square"):
        to_images(torch.zeros(2, 50))
    with pytest.raises(ValueError, match="square"):
        to_images(torch.zeros(2, 8, 8))


def test_mlp_encoder_has_the_requested_widths_and_flattens_images():
    encoder = MLPEncoder(64, (32, 16), 5)
    linear = [layer for layer in encoder.modules() if isinstance(layer, torch.nn.Linear)]
    widths = [(layer.in_features, layer.out_features) for layer in linear]
    assert widths == [(64, 32), (32, 16), (16, 5)]
    X = torch.randn(3, 64)
    torch.testing.assert_close(encoder(X.reshape(3, 1, 8, 8)), encoder(X))
    assert encoder(X).shape == (3, 5)
    assert len([m for m in MLPEncoder(4, 7, 2).modules() if isinstance(m, torch.nn.Linear)]) == 2
    # No hidden layer: a linear map.
    layers = [type(layer) for layer in MLPEncoder(4, (), 2).layers]
    assert layers == [torch.nn.Flatten, torch.nn.Linear]


@pytest.mark.parametrize("side", [8, 14])
def test_conv_encoder_takes_flat_rows_or_image_batches(side):
    encoder = ConvEncoder(6, channels=(4, 8, 8)).eval()
    X = torch.rand(3, side * side)
    out = encoder(X)
    assert out.shape == (3, 6)
    torch.testing.assert_close(encoder(X.reshape(3, 1, side, side)), out)


def test_conv_encoder_is_invariant_to_even_shifts_away_from_the_borders():
    encoder = ConvEncoder(6, channels=(4, 8, 8)).eval()
    generator = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 1, 24, 24)
    image[0, 0, 9:14, 10:14] = torch.rand(5, 4, generator=generator)
    moved = torch.roll(image, shifts=(2, -2), dims=(2, 3))
    odd = torch.roll(image, shifts=(1, 0), dims=(2, 3))
    with torch.no_grad():
        torch.testing.assert_close(encoder(moved), encoder(image))
        # Stride 2 breaks the invariance for odd shifts: the test can tell them apart.
        assert (encoder(odd) - encoder(image)).abs().max() > 1e-5


def test_cifar_resnet18_shapes_stem_and_size():
    torch.manual_seed(0)
    encoder = ResNet18(n_outputs=10).eval()
    backbone = sum(
        p.numel() for name, p in encoder.named_parameters() if not name.startswith("head")
    )
    assert backbone == 11_168_832  # the CIFAR ResNet-18 of He et al. (11.17M with a 10-way head)
    assert encoder.stem[0].kernel_size == (3, 3) and encoder.stem[0].stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in encoder.modules())
    sizes = []
    for stage in encoder.stages:
        stage.register_forward_hook(lambda module, inputs, output: sizes.append(output.shape[1:]))
    X = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out = encoder(X)
        torch.testing.assert_close(encoder(X.reshape(2, -1)), out)
    assert out.shape == (2, 10)
    expected = [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert [tuple(size) for size in sizes[:4]] == expected


# --- 1-D signals ------------------------------------------------------------------------------


def test_conv1d_encoder_takes_flat_rows_or_channel_batches():
    encoder = Conv1dEncoder(5, in_channels=2).eval()
    signals = torch.randn(3, 2, 40)
    torch.testing.assert_close(encoder(signals), encoder(signals.reshape(3, 80)))
    assert Conv1dEncoder(4)(torch.randn(2, 17)).shape == (2, 4)  # any length
    with pytest.raises(ValueError, match="channels"):
        encoder(torch.randn(3, 81))


def test_conv1d_encoder_is_nearly_invariant_to_a_shift_of_a_centred_pattern():
    torch.manual_seed(0)
    encoder = Conv1dEncoder(8).eval()
    pattern = torch.zeros(1, 128)
    pattern[0, 40:60] = torch.randn(20)
    moved = torch.roll(pattern, 8, dims=1)  # a multiple of the total stride, away from the ends
    other = torch.zeros(1, 128)
    other[0, 40:60] = torch.randn(20)
    with torch.no_grad():
        size = encoder(pattern).norm()
        same = (encoder(pattern) - encoder(moved)).norm()
        different = (encoder(pattern) - encoder(other)).norm()
    assert same < 1e-5 * size and different > 1e-3 * size


def test_invalid_encoder_parameters_are_named():
    with pytest.raises(ValueError, match="kernel_size"):
        Conv1dEncoder(4, kernel_size=4)
