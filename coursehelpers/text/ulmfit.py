"""ULMFiT (Howard & Ruder 2018): fastai's language-model files (fastai's WT103 model and the bundled
sample go through the same code), the language-model and classifier learners, and a look inside."""
from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from coursehelpers.config import TrainConfig
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner
from coursehelpers.metrics import accuracy, batchwise
from coursehelpers.text.awdlstm import AWDLSTM, LanguageModel, TextClassifier
from coursehelpers.text.data import Vocab
from coursehelpers.text.tokenize import BOS, PAD_IDX, UNK_IDX, tokenize, untokenize

# fastai's AWD-LSTM dropouts (fastai.text.models.awdlstm), multiplied by drop_mult.
LM_DROPOUTS = dict(embed_p=0.02, input_p=0.25, weight_p=0.2, hidden_p=0.15, output_p=0.1)
CLASSIFIER_DROPOUTS = dict(embed_p=0.05, input_p=0.4, weight_p=0.5, hidden_p=0.3, output_p=0.4)
RNN_PARAMS = ("weight_hh_l0_raw", "module.weight_ih_l0", "module.bias_ih_l0", "module.bias_hh_l0")
LM_FILE, ITOS_FILE = "lstm_fwd.pth", "itos_wt103.pkl"
BACKWARD_LM_FILE = "lstm_bwd.pth"  # fastai's wt103-bwd.tgz: a model of the token stream read right to left


def lm_file(folder: str | Path) -> Path:
    """The weights file of the language model in ``folder``: ``lstm_fwd.pth`` or, for a backward model, ``lstm_bwd.pth``."""
    found = [Path(folder) / name for name in (LM_FILE, BACKWARD_LM_FILE) if (Path(folder) / name).exists()]
    if len(found) != 1:
        raise FileNotFoundError(f"{folder} must hold exactly one of {LM_FILE} and {BACKWARD_LM_FILE}; it holds "
                                f"{[f.name for f in found] or 'neither'}. Get it with coursehelpers.data.get_weights.")
    return found[0]


def fastai_keys(n_layers: int) -> list[tuple[str, str]]:
    """(our name, fastai's key) of each tensor of an ``n_layers`` language model, in the order of fastai's
    state dict: fastai's loader (``load_ignore_keys``) matches tensors by position, not by name."""
    rnns = [(f"encoder.rnns.{i}.{name}", f"0.rnns.{i}.{name}") for i in range(n_layers) for name in RNN_PARAMS]
    return ([("encoder.embed.weight", "0.encoder.weight"), ("encoder.embed.weight", "0.encoder_dp.emb.weight")]
            + rnns + [("decoder.weight", "1.decoder.weight"), ("decoder.bias", "1.decoder.bias")])


class _ListOfStrings(pickle.Unpickler):
    """An unpickler that refuses every class or function: enough for a list of str, and safe."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"{ITOS_FILE} should be a list of strings, but refers to {module}.{name}.")


def read_fastai_lm(folder: str | Path) -> tuple[dict[str, Tensor], list[str]]:
    """Our-named state dict and vocabulary from ``lstm_fwd.pth`` or ``lstm_bwd.pth`` (a state dict or
    ``{"model": ...}``) and ``itos_wt103.pkl`` in ``folder`` (from `coursehelpers.data.get_weights`)."""
    raw = torch.load(lm_file(folder), map_location="cpu", weights_only=True)
    raw = raw.get("model", raw)
    n_layers = len({k.split(".")[2] for k in raw if k.startswith("0.rnns.")})
    with open(Path(folder) / ITOS_FILE, "rb") as f:
        itos = _ListOfStrings(f).load()
    keys = [(ours, theirs) for ours, theirs in fastai_keys(n_layers) if ours != "decoder.weight"]  # tied
    return {ours: raw[theirs].float() for ours, theirs in keys}, list(itos)


def save_fastai_lm(model: LanguageModel, itos: Sequence[str], folder: str | Path, backward: bool = False,
                   dtype: torch.dtype = torch.float32) -> Path:
    """Write ``model`` and its vocabulary in fastai's layout (CPU tensors of ``dtype``: fastai's are float32; both
    loaders convert a float16 file to float32) into ``folder``; a ``backward`` model (trained on reversed token
    streams) as ``lstm_bwd.pth``, as fastai names it."""
    folder, ours, converted = Path(folder), model.state_dict(), {}
    for name, tensor in ours.items():  # once per storage: the tied matrix stays one tensor, saved once
        converted.setdefault(tensor.data_ptr(), tensor.detach().cpu().to(dtype).contiguous())
    out = {theirs: converted[ours[name].data_ptr()]  # the tied matrix under three keys, as fastai stores it
           for name, theirs in fastai_keys(model.encoder.n_layers)}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(out, folder / (BACKWARD_LM_FILE if backward else LM_FILE))
    with open(folder / ITOS_FILE, "wb") as f:
        pickle.dump(list(itos), f, protocol=2)
    return folder


def awd_sizes(state: Mapping[str, Tensor]) -> dict[str, int]:
    """vocab_size, emb_size, hidden_size and n_layers, read from the state dict of an AWD-LSTM (or a model on one)."""
    hh = [v for k, v in state.items() if k.endswith("weight_hh_l0_raw")]
    vocab_size, emb_size = next(v for k, v in state.items() if k.endswith("embed.weight")).shape
    return dict(vocab_size=vocab_size, emb_size=emb_size, hidden_size=hh[0].shape[1], n_layers=len(hh))


def match_vocab(state: dict[str, Tensor], old_itos: Sequence[str], new_itos: Sequence[str]) -> dict[str, Tensor]:
    """Embedding rows and decoder biases moved from ``old_itos`` to ``new_itos``; new tokens get the mean
    row and bias, a neutral start that fine-tuning moves."""
    old_stoi, new = {t: i for i, t in enumerate(old_itos)}, dict(state)
    pairs = [(j, old_stoi[t]) for j, t in enumerate(new_itos) if t in old_stoi]
    for key in ("encoder.embed.weight", "decoder.bias"):
        old = state[key]
        new[key] = old.mean(0, keepdim=True).repeat(len(new_itos), *[1] * (old.dim() - 1))
        new[key][[j for j, _ in pairs]] = old[[i for _, i in pairs]]
    return new


def language_model(vocab_size: int, emb_size: int = 400, hidden_size: int = 1152, n_layers: int = 3,
                   drop_mult: float = 1.0, embed_init: float = 0.1) -> LanguageModel:
    """An AWD-LSTM `LanguageModel` with fastai's LM dropouts times ``drop_mult``."""
    p = {k: v * drop_mult for k, v in LM_DROPOUTS.items()}
    output_p = p.pop("output_p")
    return LanguageModel(AWDLSTM(vocab_size, emb_size, hidden_size, n_layers, embed_init=embed_init, **p), output_p)


def text_classifier(vocab_size: int, n_classes: int, emb_size: int, hidden_size: int, n_layers: int,
                    drop_mult: float) -> TextClassifier:
    """A `TextClassifier` with fastai's classifier dropouts times ``drop_mult`` (the export builder)."""
    p = {k: v * drop_mult for k, v in CLASSIFIER_DROPOUTS.items()}
    head_ps = (p.pop("output_p"), 0.1)  # fastai scales the first head dropout by drop_mult, not the second
    return TextClassifier(AWDLSTM(vocab_size, emb_size, hidden_size, n_layers, **p), n_classes, head_ps=head_ps)


def lm_splitter(model: LanguageModel) -> list[list[nn.Parameter]]:
    """Each LSTM layer, then embedding + decoder bias: last, so ``freeze()`` trains the new tokens' rows first."""
    return [list(r.parameters()) for r in model.encoder.rnns] + [[model.encoder.embed.weight, model.decoder.bias]]


def classifier_splitter(model: TextClassifier) -> list[list[nn.Parameter]]:
    """Groups for gradual unfreezing: embedding, each LSTM layer, head (``freeze_to(-k)``)."""
    enc = model.encoder
    return [[enc.embed.weight]] + [list(r.parameters()) for r in enc.rnns] + [list(model.head.parameters())]


def language_model_learner(dls: DataLoaders, weights_folder: str | Path, itos: Sequence[str],
                           drop_mult: float = 0.3, config: TrainConfig | None = None) -> Learner:
    """A Learner for the pretrained language model in ``weights_folder`` (sizes from the file), matched to
    ``itos``; accuracy is `batchwise` (validation keeps no outputs); ``config`` defaults to clipping at 0.25."""
    state, old_itos = read_fastai_lm(weights_folder)
    model = language_model(drop_mult=drop_mult, **{**awd_sizes(state), "vocab_size": len(itos)})
    state = match_vocab(state, old_itos, itos)
    model.load_state_dict({**state, "decoder.weight": state["encoder.embed.weight"]})  # tied: the same matrix
    return Learner(model, dls, nn.CrossEntropyLoss(), metrics=[batchwise(accuracy)], activation="softmax",
                   splitter=lm_splitter, config=config if config is not None else TrainConfig(grad_clip=0.25))


def text_classifier_learner(dls: DataLoaders, encoder: AWDLSTM | Mapping[str, Tensor], drop_mult: float = 0.5,
                            config: TrainConfig | None = None, pretrained: bool = True) -> Learner:
    """A classifier Learner (which `export` can rebuild) on a language model's ``encoder``, the module or
    its state dict; ``pretrained=False`` takes only its sizes (a random start, for ablations). ``config``
    defaults to no gradient clipping, as fastai's classifier: clipping at 0.25 stalls a small one."""
    state = encoder.state_dict() if isinstance(encoder, nn.Module) else encoder
    args = {**awd_sizes(state), "n_classes": dls.c, "drop_mult": drop_mult}
    model = text_classifier(**args)
    if pretrained:
        model.encoder.load_state_dict(state)
    learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=[accuracy], activation="softmax",
                    splitter=classifier_splitter, config=config if config is not None else TrainConfig())
    learn.model_spec = {"builder": "text_classifier", "args": args}
    return learn


@torch.no_grad()
def generate(model: LanguageModel, vocab: Vocab, prompt: str, n_words: int = 30, temperature: float = 0.8,
             generator: torch.Generator | None = None) -> str:
    """``prompt`` continued by ``n_words`` sampled tokens (never xxunk, xxpad or xxbos); a lower
    ``temperature`` picks likely words more often, a seeded ``generator`` repeats the text."""
    device = next(model.parameters()).device
    model.eval().reset()
    toks = tokenize(prompt)
    ids = vocab.encode(toks).unsqueeze(0).to(device)
    for _ in range(n_words):
        logits = model(ids)[-1].float().cpu() / max(temperature, 1e-6)
        logits[[UNK_IDX, PAD_IDX, vocab.stoi.get(BOS, UNK_IDX)]] = float("-inf")
        nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=generator))
        toks.append(vocab.itos[nxt])
        ids = torch.tensor([[nxt]], device=device)
    return untokenize(toks)


def neighbours(embedding: Tensor, vocab: Vocab, word: str, k: int = 8) -> list[str]:
    """The ``k`` tokens whose embedding rows are closest to ``word``'s (cosine similarity)."""
    rows = nn.functional.normalize(embedding.detach().float(), dim=1)
    return [vocab.itos[i] for i in (rows @ rows[vocab.stoi.get(word, UNK_IDX)]).topk(k + 1).indices.tolist()[1:]]
