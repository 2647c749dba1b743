"""The convolutional energy network (``network="conv"``) and VERA's decoder.

Images reach every network as flattened rows, so they pass through
scikit-learn pipelines unchanged; these networks reshape each row to
``input_shape`` themselves.
"""

import math
from numbers import Integral

from torch import nn
from torch.nn import functional

from .mlp import ACTIVATIONS, _linear


class ConvEnergyNet(nn.Module):
    """A small convolutional network whose outputs define an energy.

    The image models of JEM and VERA, shrunk for CPUs: 3x3 convolutions, the
    first at full resolution and each later one with stride 2, then the mean
    over positions and a linear layer to the outputs. No batch normalization:
    it makes an input's energy depend on the rest of its batch, and JEM's
    authors report it unstable in energy training. The mean over positions
    makes any image size work (8x8 digits as well as 28x28 Fashion-MNIST).

    Parameters
    ----------
    n_features : int
        Width of the flattened input rows, ``prod(input_shape)``.
    n_outputs : int
        Number of outputs: the number of classes for JEM, 1 for a density model.
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    channels : tuple of int
        Output channels of each convolution.
    activation : str
        A key of :data:`~sk_ebm.nets.ACTIVATIONS`.
    generator : torch.Generator or None
        Source of the initial weights.
    """

    #: The estimator parameters the network is built from (the registry's
    #: protocol: see :func:`sk_ebm.nets.register_network`).
    estimator_params = ("input_shape", "channels", "activation")

    def __init__(
        self, n_features, n_outputs, *, generator, input_shape, channels, activation
    ):
        super().__init__()
        self.input_shape = tuple(input_shape)
        if math.prod(self.input_shape) != n_features:
            raise ValueError(
                f"input_shape {self.input_shape} holds {math.prod(self.input_shape)} "
                f"values but the rows have {n_features} features."
            )
        layers = []
        fan_in = self.input_shape[0]
        for i, width in enumerate(channels):
            stride = 1 if i == 0 else 2
            layers += [
                _conv(fan_in, width, stride, generator),
                ACTIVATIONS[activation](),
            ]
            fan_in = width
        self.features = nn.Sequential(*layers)
        self.head = _linear(fan_in, n_outputs, generator)

    @staticmethod
    def check_config(config):
        """Validate and normalize the estimator parameters named above."""
        if config["input_shape"] is None:
            raise ValueError(
                "network='conv' needs input_shape, the (channels, height, width) "
                "of one image, e.g. input_shape=(1, 28, 28)."
            )
        return {
            "input_shape": check_input_shape(config["input_shape"]),
            "channels": check_channels(config["channels"], "channels"),
            "activation": config["activation"],
        }

    def forward(self, x):
        images = x.reshape(len(x), *self.input_shape)
        return self.head(self.features(images).mean(dim=(2, 3)))

    @staticmethod
    def decoder_widths(config):
        """VERA's default decoder channels: the network's, reversed and halved
        (at least 16), so the generator costs less than the energy."""
        return tuple(max(16, width // 2) for width in reversed(config["channels"]))

    @staticmethod
    def decoder(latent_dim, config, widths, activation, generator):
        """VERA's generator mean for this network: a :class:`ConvDecoder`."""
        widths = check_channels(widths, "generator_params['hidden_dims']")
        return ConvDecoder(
            latent_dim, config["input_shape"], widths, activation, generator
        )


class ConvDecoder(nn.Module):
    """Latent vectors to flattened images: VERA's generator mean for images.

    A linear layer to a small feature map, then per stage a doubling of the
    resolution (nearest neighbour) and a 3x3 convolution, then a 3x3
    convolution to the image's channels, cropped to its size. No batch
    normalization, for the reason :class:`~sk_ebm.nets.GaussianGenerator`
    gives.

    Parameters
    ----------
    latent_dim : int
        Width of the latent vectors.
    input_shape : tuple of int
        ``(channels, height, width)`` of the images made.
    channels : tuple of int
        Channels of each stage, from the smallest feature map up.
    activation : str
        A key of :data:`~sk_ebm.nets.ACTIVATIONS`.
    generator : torch.Generator or None
        Source of the initial weights.
    """

    def __init__(self, latent_dim, input_shape, channels, activation, generator):
        super().__init__()
        self.input_shape = tuple(input_shape)
        n_channels, height, width = self.input_shape
        n_up = len(channels) - 1
        self.start = (math.ceil(height / 2**n_up), math.ceil(width / 2**n_up))
        self.project = _linear(
            latent_dim, channels[0] * self.start[0] * self.start[1], generator
        )
        self.act = ACTIVATIONS[activation]()
        self.stages = nn.ModuleList(
            _conv(fan_in, fan_out, 1, generator)
            for fan_in, fan_out in zip(channels[:-1], channels[1:])
        )
        self.out = _conv(channels[-1], n_channels, 1, generator)
        self.channels = tuple(channels)

    def forward(self, h):
        x = self.act(self.project(h)).reshape(len(h), self.channels[0], *self.start)
        for conv in self.stages:
            x = self.act(conv(functional.interpolate(x, scale_factor=2.0)))
        _, height, width = self.input_shape
        return self.out(x)[:, :, :height, :width].reshape(len(h), -1)


def _conv(fan_in, fan_out, stride, generator):
    # As _linear: built without torch's global generator, initialised from ours
    # with nn.Conv2d's default distribution.
    layer = nn.utils.skip_init(
        nn.Conv2d, fan_in, fan_out, kernel_size=3, stride=stride, padding=1
    )
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1.0 / math.sqrt(fan_in * 9)
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def check_input_shape(input_shape, n_features=None):
    """``input_shape`` as ``(channels, height, width)``, validated.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width)`` (one channel) or ``(channels, height, width)``; one
        entry may be -1, inferred from ``n_features`` as in numpy's reshape.
    n_features : int or None
        When given, the number of features the shape must hold.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        For a shape that is not 2 or 3 positive ints (one may be -1), or that
        holds another number of values than ``n_features``.
    """
    shape = tuple(input_shape)
    ints = all(isinstance(d, Integral) and not isinstance(d, bool) for d in shape)
    if (
        len(shape) not in (2, 3)
        or not ints
        or not all(d >= 1 or d == -1 for d in shape)
        or shape.count(-1) > 1
    ):
        raise ValueError(
            "input_shape must be (height, width) or (channels, height, width) in "
            f"positive ints, one of which may be -1 (inferred); got {input_shape!r}."
        )
    shape = tuple(int(d) for d in shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if n_features is None:
        return shape
    known = math.prod(d for d in shape if d != -1)
    if -1 in shape and n_features % known == 0:
        shape = tuple(n_features // known if d == -1 else d for d in shape)
    if -1 in shape:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r} does not fit X's {n_features} "
            f"features: they are not a multiple of the {known} values its other "
            "dimensions hold (X must hold one flattened image per row)."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r} holds {math.prod(shape)} values "
            f"per image but X has {n_features} features; X must hold one "
            "flattened image per row."
        )
    return shape


def check_channels(channels, name):
    """``channels`` as a tuple of positive ints; ``name`` is for the message."""
    widths = tuple(channels)
    if not widths or not all(
        isinstance(w, Integral) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ValueError(
            f"{name} must be a non-empty tuple of positive ints; got {channels!r}."
        )
    return tuple(int(w) for w in widths)
