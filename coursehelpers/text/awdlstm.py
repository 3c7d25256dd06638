"""The AWD-LSTM (Merity et al. 2017), its dropouts, and the two models ULMFiT builds on it."""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coursehelpers.text.tokenize import PAD_IDX

State = list[tuple[Tensor, Tensor]]


class RNNDropout(nn.Dropout):
    """Dropout with one mask per sequence, shared by all time steps (x is ``(bs, seq, features)``)."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return x * (x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p) / (1 - self.p))


class EmbeddingDropout(nn.Dropout):
    """Drop whole words: zero random rows of the embedding matrix, rescale the others; ``drop(embed, ids)``."""

    def forward(self, embed: nn.Embedding, ids: Tensor) -> Tensor:
        weight = embed.weight
        if self.training and self.p > 0:
            weight = weight * (weight.new_empty(weight.size(0), 1).bernoulli_(1 - self.p) / (1 - self.p))
        return F.embedding(ids, weight, embed.padding_idx)


class _LSTMNoFlatten(nn.LSTM):
    def flatten_parameters(self) -> None:
        """Never compact the weights for cuDNN: WeightDrop passes a new matrix on every call."""


class WeightDrop(nn.Module):
    """A one-layer LSTM with DropConnect (Wan et al. 2013): each training call runs it with a dropped,
    rescaled copy of its hidden-to-hidden ``weight_hh_l0_raw``. Names match fastai's, so its files load."""

    def __init__(self, n_in: int, n_out: int, weight_p: float = 0.5):
        super().__init__()
        self.weight_p = weight_p
        self.module = _LSTMNoFlatten(n_in, n_out, batch_first=True)
        raw = self.module.weight_hh_l0
        del self.module._parameters["weight_hh_l0"]  # the LSTM now reads the matrix we pass it
        self.weight_hh_l0_raw = nn.Parameter(raw.detach().clone())

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        w = F.dropout(self.weight_hh_l0_raw, self.weight_p, self.training)
        with warnings.catch_warnings():  # cuDNN warns that the new matrix is not compacted: unavoidable
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            return torch.func.functional_call(self.module, {"weight_hh_l0": w}, (x, state))


class AWDLSTM(nn.Module):
    """The encoder: embedding, then LSTMs emb -> hidden -> ... -> emb (WT103: 400, 1152, 3 layers), with
    dropouts on whole words, the embedded input, between layers and the hidden-to-hidden weights.
    ``forward(ids, state)`` returns the outputs ``(bs, seq, emb_size)`` and one (h, c) per layer."""

    def __init__(self, vocab_size: int, emb_size: int = 400, hidden_size: int = 1152, n_layers: int = 3,
                 embed_p: float = 0.1, input_p: float = 0.6, weight_p: float = 0.5, hidden_p: float = 0.2,
                 embed_init: float = 0.1):
        super().__init__()
        self.emb_size, self.hidden_size, self.n_layers = emb_size, hidden_size, n_layers
        self.embed = nn.Embedding(vocab_size, emb_size, padding_idx=PAD_IDX)
        # fastai starts its 400-wide embedding in U(-0.1, 0.1); a narrow tied embedding
        # (the sample's 64) leaves the unigram plateau much sooner from a wider start.
        nn.init.uniform_(self.embed.weight, -embed_init, embed_init)
        self.embed_drop, self.input_drop = EmbeddingDropout(embed_p), RNNDropout(input_p)
        sizes = [emb_size] + [hidden_size] * (n_layers - 1) + [emb_size]
        self.rnns = nn.ModuleList(WeightDrop(sizes[i], sizes[i + 1], weight_p) for i in range(n_layers))
        self.hidden_drops = nn.ModuleList(RNNDropout(hidden_p) for _ in range(n_layers - 1))

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        x, new_state = self.input_drop(self.embed_drop(self.embed, ids)), []
        for i, rnn in enumerate(self.rnns):
            x, s = rnn(x, None if state is None else state[i])
            new_state.append(s)
            x = self.hidden_drops[i](x) if i < self.n_layers - 1 else x
        return x, new_state


class LanguageModel(nn.Module):
    """AWD-LSTM encoder + a linear decoder sharing the embedding matrix (tied weights); logits ``(bs * seq, vocab)``.
    Consecutive LM batches continue the same streams, so it carries its hidden state from call to
    call, detached (truncated BPTT); `reset()` forgets it (the Learner does before every pass)."""

    def __init__(self, encoder: AWDLSTM, output_p: float = 0.1):
        super().__init__()
        self.encoder, self.output_drop = encoder, RNNDropout(output_p)
        vocab_size, emb_size = encoder.embed.weight.shape
        self.decoder = nn.Linear(emb_size, vocab_size)
        self.decoder.weight = encoder.embed.weight  # tied: one matrix, shared storage
        nn.init.zeros_(self.decoder.bias)
        self.hidden: State | None = None

    def reset(self) -> None:
        """Forget the hidden state: the next batch starts new streams."""
        self.hidden = None

    def forward(self, ids: Tensor) -> Tensor:
        out, state = self.encoder(ids, self.hidden)
        self.hidden = [(h.detach(), c.detach()) for h, c in state]
        return self.decoder(self.output_drop(out)).reshape(-1, self.decoder.out_features)


class TextClassifier(nn.Module):
    """AWD-LSTM encoder, concat pooling (the last real token's output, max and mean over real
    tokens: pads come last and are skipped), then BatchNorm, dropout, linear, ReLU, BatchNorm,
    dropout, linear, as fastai's head (its linears have no bias: each follows a BatchNorm, whose shift does that job)."""

    def __init__(self, encoder: AWDLSTM, n_classes: int, head_hidden: int = 50,
                 head_ps: tuple[float, float] = (0.4, 0.1)):
        super().__init__()
        self.encoder, n = encoder, 3 * encoder.emb_size
        self.head = nn.Sequential(
            nn.BatchNorm1d(n), nn.Dropout(head_ps[0]), nn.Linear(n, head_hidden, bias=False), nn.ReLU(inplace=True),
            nn.BatchNorm1d(head_hidden), nn.Dropout(head_ps[1]), nn.Linear(head_hidden, n_classes, bias=False))

    def pool(self, out: Tensor, ids: Tensor) -> Tensor:
        """``(bs, 3 * emb)``: the last real output, the max and the mean over real positions."""
        mask = (ids != PAD_IDX).unsqueeze(-1)
        lengths = mask.sum(1).clamp(min=1)
        last = out[torch.arange(out.size(0), device=out.device), lengths.squeeze(-1) - 1]
        return torch.cat([last, out.masked_fill(~mask, float("-inf")).max(1).values, (out * mask).sum(1) / lengths], 1)

    def forward(self, ids: Tensor) -> Tensor:
        out, _ = self.encoder(ids)  # every text starts from a zero state
        return self.head(self.pool(out, ids))
