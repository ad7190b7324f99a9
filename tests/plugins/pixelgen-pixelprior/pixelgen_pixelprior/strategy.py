"""p(sprite | class) = prod over pixels of Categorical(softmax(logits[class, :, y, x]))."""

import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import Strategy


class PixelLogits(nn.Module):
    def __init__(self, classes: int, colours: int, size: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(classes, colours, size, size))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.logits[labels]


class PixelPrior(Strategy):
    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        self.classes = max(data.num_classes, 1)
        model = PixelLogits(self.classes, len(data.palette), data.image_size).to(device)
        self.modules = {"prior": model}
        self.optimizers = {
            "prior": torch.optim.SGD(model.parameters(), lr=float(config["training"]["lr"]))
        }

    def _labels(self, batch):
        if batch.labels is None:
            return torch.zeros(len(batch.indices), dtype=torch.long, device=self.device)
        return batch.labels

    def loss(self, batch, step):
        logits = self.modules["prior"](self._labels(batch))
        return F.cross_entropy(logits, batch.indices)

    def metrics(self, batch):
        with torch.no_grad():
            logits = self.modules["prior"](self._labels(batch))
            return {"nll": F.cross_entropy(logits, batch.indices).item()}

    def sample(self, draw):
        n, generator, label = draw.n, draw.generator, draw.label
        temperature = draw.options.temperature
        labels = torch.full((n,), label or 0, dtype=torch.long, device=self.device)
        if label is None:
            labels = torch.randint(0, self.classes, (n,), generator=generator, device=self.device)
        logits = self.modules["prior"](labels) / temperature
        probs = logits.softmax(1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
        picks = torch.multinomial(probs, 1, generator=generator)
        return picks.view(n, *logits.shape[2:])
