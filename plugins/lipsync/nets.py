"""The four networks, each small enough (well under a few million parameters at `draft`) to train
on two CPU cores in minutes; `standard` and `high` only widen them.

- AudioEncoder: a window of Whisper rows (0.4 s) to one vector; audio2lip and the generator each
  have one, and the generator's starts from audio2lip's.
- Audio2Lip: that vector, and one of the band envelopes, to the 40 lip points (80 numbers around
  the mean shape).
- SyncNet: the band envelopes against the lips' motion over a window of frames (landmarks, not
  pixels: a minute of one person cannot teach a pixel expert to tell sync from chance, held-out
  0.50-0.58), as the correlation of a few learnt curves of each; in sync or not.
- Generator: a UNet from the masked lower face, a reference of the same person, the target lips
  drawn as a map, and the audio vector, to the lower face.
- Refiner: a residual convolutional stack that sharpens the generator's output and draws it at
  the person's own resolution; PatchCritic its adversary in training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from plugins.lipsync.features import DIM, ENVELOPE_DIM


class AudioEncoder(nn.Module):
    """Whisper rows [B, 20, 512] -> [B, embed]. Each row is layer-normalised first, so the loudness
    and the microphone of a new voice move the input less; dropout on the input keeps the network
    from leaning on a few of the 512 channels, which would fit the training voice."""

    def __init__(self, channels: int = 64, embed: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(DIM)
        self.drop = nn.Dropout(dropout)
        self.net = nn.Sequential(
            nn.Conv1d(DIM, channels, 1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, padding=1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),  # 10 rows
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),  # 5 rows
        )
        self.out = nn.Linear(channels * 5, embed)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.norm(rows)).transpose(1, 2)
        return self.out(self.net(x).flatten(1))


class EnvelopeEncoder(nn.Module):
    """Band envelopes [B, 20, 28] (features.envelope) -> [B, embed]: how the voice rises and falls
    in each band around the frame, whoever speaks."""

    def __init__(self, channels: int = 32, embed: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(ENVELOPE_DIM, channels, 3, padding=1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),  # 10 rows
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),  # 5 rows
        )
        self.out = nn.Linear(channels * 5, embed)

    def forward(self, envelopes: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(envelopes.transpose(1, 2)).flatten(1))


class Audio2Lip(nn.Module):
    """Predicts the weights of the person's main lip motions (a fixed basis, the principal
    components of their lips in training) rather than 80 free numbers: a minute of one voice
    cannot teach 80 independent outputs, and the first few components (opening, width, pout)
    carry what a viewer reads as sync. From Whisper's rows and the band envelopes, whose
    embeddings add up; in training Whisper's is dropped for a share `whisper_drop` of the samples,
    so that the envelopes alone must time the mouth (what carries over to voices the person never
    spoke with, features.py)."""

    def __init__(self, channels: int = 64, embed: int = 128, components: int = 8, points: int = 80,
                 envelope: bool = True, whisper_drop: float = 0.5) -> None:
        super().__init__()
        self.audio = AudioEncoder(channels, embed)
        self.envelope = EnvelopeEncoder(32, embed) if envelope else None
        self.whisper_drop = whisper_drop
        self.head = nn.Sequential(nn.GELU(), nn.Linear(embed, components))
        self.register_buffer("basis", torch.zeros(components, points))

    def forward(self, rows: torch.Tensor, envelopes: torch.Tensor | None = None) -> torch.Tensor:
        embedded = self.audio(rows)
        if self.envelope is not None:
            if self.training and self.whisper_drop > 0:
                embedded = embedded * (torch.rand(len(embedded), 1, device=embedded.device) >= self.whisper_drop).float()
            embedded = embedded + self.envelope(envelopes)
        return self.head(embedded) @ self.basis


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.GELU())


class SyncNet(nn.Module):
    """Is this the mouth that made this sound, at this time? A few learnt curves of the sound (the
    band envelopes at each frame's time) and as many of the lips' motion (their projection on the
    person's main lip motions, a fixed basis) over a window of frames; the logit is the curves'
    mean correlation over the window, scaled.

    Sync is a correlation in time, so the network computes one instead of learning it: with about
    700 weights it learns sync from a minute of one person (held-out accuracy 0.81 over three seeds,
    0.55 on shuffled labels; the earlier cosine of two embeddings on Whisper rows, a quarter of a
    million weights, 0.62). From a 15-20 s take it learns nothing measurable: its 0.54-0.68 there
    is what the form alone gives (bench.sync_expert). It reads the envelopes only: they say
    how loud each band is whoever speaks, so a new voice moves its input less than Whisper's rows."""

    def __init__(self, components: int = 12, trajectories: int = 4, kernel: int = 5, dropout: float = 0.3, noise: float = 0.05) -> None:
        super().__init__()
        self.noise = noise  # in training, of each main motion's spread: the face mesh's jitter on a new video
        self.register_buffer("basis", torch.zeros(components, 80))  # set from the training lips (syncnet.whitened_basis)
        self.drop = nn.Dropout(dropout)
        self.audio = nn.Conv1d(ENVELOPE_DIM, trajectories, kernel, padding=kernel // 2)
        self.lips = nn.Conv1d(components, trajectories, 3, padding=1)
        self.scale = nn.Parameter(torch.tensor(5.0))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def forward(self, envelopes: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        """envelopes [B, W, 28] (at the window's frames, syncnet.frame_envelopes), lips [B, W, 80] -> logits [B]."""
        sound = self.audio(self.drop(envelopes).transpose(1, 2))
        motions = lips @ self.basis.T
        if self.training and self.noise:
            motions = motions + self.noise * torch.randn_like(motions)
        mouth = self.lips(motions.transpose(1, 2))
        sound = sound - sound.mean(dim=2, keepdim=True)
        mouth = mouth - mouth.mean(dim=2, keepdim=True)
        correlation = (sound * mouth).sum(dim=2) / (sound.norm(dim=2) * mouth.norm(dim=2) + 1e-6)
        return self.scale * correlation.mean(dim=1) + self.bias


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(cin, cout, 2), _conv(cout, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Up(nn.Module):
    def __init__(self, cin: int, skip: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(cin + skip, cout), _conv(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.net(torch.cat([x, skip], dim=1))


class Generator(nn.Module):
    """Inputs at G x G: masked lower face (3), reference (3), lip map (2); the audio vector joins
    at the bottleneck. Output: the lower face, RGB in [0, 1]."""

    def __init__(self, channels: int = 16, audio_channels: int = 64, embed: int = 128) -> None:
        super().__init__()
        c = channels
        widths = [c, 2 * c, 4 * c, 8 * c, 8 * c]
        self.audio = AudioEncoder(audio_channels, embed)
        self.stem = nn.Sequential(_conv(8, c), _conv(c, c))
        self.downs = nn.ModuleList(_Down(widths[i], widths[i + 1]) for i in range(4))
        self.film = nn.Linear(embed, 2 * widths[-1])
        self.ups = nn.ModuleList(_Up(widths[i + 1], widths[i], widths[i]) for i in reversed(range(4)))
        self.out = nn.Conv2d(c, 3, 1)

    def forward(self, masked: torch.Tensor, reference: torch.Tensor, lips: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        x = self.stem(torch.cat([masked, reference, lips], dim=1))
        skips = [x]
        for down in self.downs:
            x = down(x)
            skips.append(x)
        gamma, beta = self.film(self.audio(rows)).chunk(2, dim=1)
        x = x * (1 + gamma[..., None, None]) + beta[..., None, None]
        for up, skip in zip(self.ups, reversed(skips[:-1])):
            x = up(x, skip)
        return torch.sigmoid(self.out(x))


class Refiner(nn.Module):
    """Sharpens the generator's lower face and, with `scale` above 1, draws it at `scale` times its
    pixels (the person's own resolution): features at the generator's size, then a sub-pixel
    convolution up. The output is a residual on the bilinear upsampling of the input, so an
    untrained refiner changes nothing but the size.

    With `exemplar`, forward also takes the person's recorded lower face with the nearest lip shape
    at the output's size and the window over the mouth where it may be used (plugins/lipsync/
    exemplars.py: 4 channels). Its fine detail (the picture less its blur at the generator's scale:
    teeth, lip edges) is added inside the window where a learnt gate lets it (open at the start,
    about 0.9): a residual network trained for minutes does not learn to draw detail it is only
    shown, but it learns soon enough where the shown detail does not fit. The exemplar also joins
    the input at the generator's size and the features at the output's."""

    def __init__(self, channels: int = 32, blocks: int = 4, scale: int = 1, exemplar: bool = False) -> None:
        super().__init__()
        self.scale, self.exemplar = scale, exemplar
        extra = 4 if exemplar else 0
        layers: list[nn.Module] = [nn.Conv2d(3 + extra, channels, 3, padding=1), nn.GELU()]
        for _ in range(blocks):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.GELU()]
        self.body = nn.Sequential(*layers)
        self.up = nn.Sequential(
            nn.Conv2d(channels, channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale), nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
        ) if scale > 1 else nn.Identity()
        self.out = nn.Conv2d(channels, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        if exemplar:
            self.fuse = nn.Sequential(
                nn.Conv2d(channels + 4, channels, 3, padding=1), nn.GELU(),
                nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
            )
            self.gate = nn.Conv2d(channels, 1, 3, padding=1)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, 2.0)
            self.register_buffer("blur", gaussian_kernel(float(scale)), persistent=False)

    def forward(self, image: torch.Tensor, exemplar: torch.Tensor | None = None) -> torch.Tensor:
        base = image if self.scale == 1 else F.interpolate(image, scale_factor=self.scale, mode="bilinear", align_corners=False)
        if not self.exemplar:
            return (base + self.out(self.up(self.body(image)))).clamp(0.0, 1.0)
        if exemplar is None:
            raise ValueError("this refiner draws from an exemplar: pass the nearest recorded lower face")
        small = exemplar if self.scale == 1 else F.avg_pool2d(exemplar, self.scale)
        features = self.fuse(torch.cat([self.up(self.body(torch.cat([image, small], dim=1))), exemplar], dim=1))
        picture, window = exemplar[:, :3], exemplar[:, 3:]
        pad = self.blur.shape[-1] // 2
        detail = picture - F.conv2d(F.pad(picture, (pad,) * 4, mode="replicate"), self.blur.expand(3, 1, -1, -1), groups=3)
        return (base + window * torch.sigmoid(self.gate(features)) * detail + self.out(features)).clamp(0.0, 1.0)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """float32[1, 1, K, K]: a normalised Gaussian of `sigma` pixels, K = 2 * ceil(2 sigma) + 1."""
    radius = int(np.ceil(2 * sigma))
    line = torch.exp(-(torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2) / (2 * sigma * sigma))
    square = line[:, None] * line[None, :]
    return (square / square.sum())[None, None]


class PatchCritic(nn.Module):
    """Tells the person's real lower face from a drawn one, patch by patch (each output scores
    about 22 px): a loss that sees the teeth and lip edges an L1 loss averages away. Spectral
    normalisation keeps it from overpowering a refiner that trains for minutes."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        norm = nn.utils.parametrizations.spectral_norm
        self.net = nn.Sequential(
            norm(nn.Conv2d(3, c, 4, 2, 1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(c, 2 * c, 4, 2, 1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(2 * c, 2 * c, 3, 1, 1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(2 * c, 1, 3, 1, 1)),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image * 2.0 - 1.0)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def image_gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between the horizontal and vertical differences of two images: it punishes blur, which
    a plain L1 tolerates as the average of the plausible sharp answers."""
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()
