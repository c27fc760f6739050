"""The network both network studies run: a small CNN on scikit-learn's handwritten digits
(8x8 images, shipped with scikit-learn: no download), trained here in a few seconds, and the
helpers the studies share (evaluation of a converted model, intervals, tables).

Network: conv 1->32, conv 32->128, max-pool 2, conv 128->128, global average pool, linear 128->10
(3x3 kernels, zero padding 1, ReLU after each convolution). Its largest layer, the 3x3x128 -> 128
convolution, is a 1152-row matrix: one 1152-row array per tile in the SONOS study.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import xbar.nn as xnn


class DigitsCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(32, 128, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(128, 128, 3, padding=1)
        self.fc = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))


def load_data(seed=0):
    """Images scaled to [0, 1] (inputs >= 0, as the analog layers take them): 1347 training,
    450 test images (a stratified 75/25 split)."""
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed, stratify=digits.target)
    return (x[train], y[train]), (x[test], y[test])


def train(train_set, epochs=15, seed=0):
    """Adam, batch 32, light shift augmentation; returns the model and the training time (s)."""
    torch.manual_seed(seed)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = train_set
    start = time.time()
    for epoch in range(epochs):
        order = torch.randperm(len(y))
        for k in range(0, len(y), 32):
            idx = order[k:k + 32]
            batch = x[idx]
            shift = torch.randint(-1, 2, (2,)).tolist()
            batch = torch.roll(batch, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval(), time.time() - start


@torch.no_grad()
def logits(model, images, batch=50):
    """The model's outputs [images, 10] (float64 numpy), in batches."""
    return torch.cat([model(images[k:k + batch]).double() for k in range(0, len(images), batch)]).numpy()


def analog_logits(model, config, mode, calibration, images):
    """Converts, calibrates on the calibration batch, and returns the logits [images, 10] and
    the time taken (s)."""
    start = time.time()
    analog = xnn.convert(model, config, mode=mode)
    xnn.calibrate(analog, calibration)
    return logits(analog, images), time.time() - start


def interval(right, reps=2000, seed=0):
    """Mean accuracy and a 95 % bootstrap interval over images and programming draws:
    right [draws, images] (bool); both axes resampled."""
    right = np.atleast_2d(right).astype(float)
    rng = np.random.default_rng(seed)
    draws, images = right.shape
    means = np.empty(reps)
    for k in range(reps):
        d = rng.integers(0, draws, draws) if draws > 1 else np.zeros(1, int)
        i = rng.integers(0, images, images)
        means[k] = right[np.ix_(d, i)].mean()
    return right.mean(), np.percentile(means, 2.5), np.percentile(means, 97.5)


def percent(stats):
    mean, lo, hi = stats
    return f"{100 * mean:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
