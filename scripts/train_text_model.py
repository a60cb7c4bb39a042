"""Trains a built-in text model: a small GPT-2 on Moby-Dick (or, --data, the wide model's Moby-Dick and Bible), on the CPU.

Reads the token streams that scripts/text-corpus.ts writes to bench/data/text-gpt2/ and writes a
Hugging Face GPT-2 checkpoint to models/text-gpt2/: config.json, model.safetensors (F16, the
`transformer.` names, lm_head tied to wte so not stored) and metrics.json (validation and held-out
sample perplexity beside a unigram baseline's). Details and measured results: models/text-gpt2/MODEL_CARD.md.

Usage: npm run train:text   (or: python3 scripts/train_text_model.py [--steps N] [--data DIR] [--out DIR]
       [--n-embd 64] [--n-layer 4] [--n-head 4] [--threads 1])
The wider built-in model: npm run train:text-wide (models/text-gpt2-wide/MODEL_CARD.md).
Needs PyTorch >= 1.12 (Debian: apt-get install python3-torch libopenblas0-serial).

The softmax is the cost on one thread (vocab 50257 x n_embd per token). Only ~14.6k GPT-2 tokens
occur in the training text, so training keeps one embedding row per occurring token plus ONE row
shared by every token that never occurs; that shared token's logit counts log(N_unseen) times over.
This is exactly the full 50257-way softmax of a GPT-2 whose wte repeats the shared row for each
unseen token, which is the checkpoint written: a plain GPT-2, 3.4x cheaper to train.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import math
import os
import struct
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "bench" / "data" / "text-gpt2"
OUT_DIR = REPO_ROOT / "models" / "text-gpt2"

VOCAB_SIZE = 50257
END_OF_TEXT = 50256

@dataclasses.dataclass(frozen=True)
class Shape:
    """The model's width, depth and heads (config.json's n_embd, n_layer, n_head); the MLP is 4 x n_embd wide."""

    n_embd: int = 64
    n_layer: int = 4
    n_head: int = 4

N_POSITIONS = 256
LAYER_NORM_EPSILON = 1e-5
DROPOUT = 0.1

SEED = 1851
BATCH_WINDOWS = 4  # windows of N_POSITIONS tokens per optimizer step: 1024 predicted tokens
LOGITS_BYTES = 32 * 1024 * 1024  # a forward's logits stay under glibc's mmap threshold (see keep_large_buffers)
STEPS = 6000
WARMUP_STEPS = 100
PEAK_LR = 2e-3
FINAL_LR_FRACTION = 0.1
WEIGHT_DECAY = 0.1
GRAD_CLIP = 1.0
EVAL_EVERY = 250
SAMPLE_CHECK_DOCUMENTS = 20


def keep_large_buffers() -> None:
    """Stops glibc from mmap-ing and unmapping each logits buffer anew: the page faults made steps several times slower."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's maximum
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


class Conv1D(nn.Module):
    """GPT-2's linear layer: y = x @ weight + bias with weight stored [in, out]."""

    def __init__(self, n_in: int, n_out: int, std: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, shape: Shape, proj_std: float):
        super().__init__()
        self.heads = shape.n_head
        self.c_attn = Conv1D(shape.n_embd, 3 * shape.n_embd, 0.02)
        self.c_proj = Conv1D(shape.n_embd, shape.n_embd, proj_std)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        head_dim = width // self.heads
        q, k, v = self.c_attn(x).split(width, dim=2)
        q, k, v = (t.view(batch, tokens, self.heads, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        weights = F.softmax(scores.masked_fill(mask[:tokens, :tokens], float("-inf")), dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(batch, tokens, width)
        return self.dropout(self.c_proj(mixed))


class Mlp(nn.Module):
    def __init__(self, shape: Shape, proj_std: float):
        super().__init__()
        self.c_fc = Conv1D(shape.n_embd, 4 * shape.n_embd, 0.02)
        self.c_proj = Conv1D(4 * shape.n_embd, shape.n_embd, proj_std)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """Pre-LN: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, shape: Shape, proj_std: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(shape.n_embd, eps=LAYER_NORM_EPSILON)
        self.attn = Attention(shape, proj_std)
        self.ln_2 = nn.LayerNorm(shape.n_embd, eps=LAYER_NORM_EPSILON)
        self.mlp = Mlp(shape, proj_std)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """GPT-2's `transformer` with a wte of `rows` rows (the compact vocabulary, or all 50257)."""

    def __init__(self, shape: Shape, rows: int):
        super().__init__()
        proj_std = 0.02 / math.sqrt(2 * shape.n_layer)  # GPT-2's scaling of the residual projections
        self.wte = nn.Embedding(rows, shape.n_embd)
        self.wpe = nn.Embedding(N_POSITIONS, shape.n_embd)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.drop = nn.Dropout(DROPOUT)
        self.h = nn.ModuleList(Block(shape, proj_std) for _ in range(shape.n_layer))
        self.ln_f = nn.LayerNorm(shape.n_embd, eps=LAYER_NORM_EPSILON)
        self.register_buffer("mask", torch.ones(N_POSITIONS, N_POSITIONS, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Final hidden states (after ln_f) for wte rows [batch, tokens]."""
        positions = torch.arange(rows.shape[1])
        x = self.drop(self.wte(rows) + self.wpe(positions))
        for block in self.h:
            x = block(x, self.mask)
        return self.ln_f(x)


class Gpt2(nn.Module):
    """GPT-2 language model with lm_head tied to wte; `logit_offset` adds a constant per wte row."""

    def __init__(self, shape: Shape, rows: int):
        super().__init__()
        self.shape = shape
        self.transformer = Transformer(shape, rows)
        self.register_buffer("logit_offset", torch.zeros(rows), persistent=False)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.unembed(self.transformer(rows))

    def unembed(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.transformer.wte.weight.T + self.logit_offset


class CompactVocabulary:
    """Maps GPT-2 ids to wte rows: one row per token occurring in training, one shared by all others."""

    def __init__(self, train: torch.Tensor):
        seen = torch.unique(train)
        self.seen = seen
        self.unseen_count = VOCAB_SIZE - len(seen)
        self.shared_row = len(seen)
        self.row_of = torch.full((VOCAB_SIZE,), self.shared_row, dtype=torch.long)
        self.row_of[seen] = torch.arange(len(seen))

    @property
    def rows(self) -> int:
        return len(self.seen) + 1

    def logit_offset(self) -> torch.Tensor:
        """log(N_unseen) on the shared row: its softmax mass is that of N_unseen equal logits."""
        offset = torch.zeros(self.rows)
        offset[self.shared_row] = math.log(self.unseen_count)
        return offset

    def expand(self, compact: Gpt2) -> Gpt2:
        """The equivalent plain GPT-2: wte row of every unseen token = the shared row."""
        full = Gpt2(compact.shape, VOCAB_SIZE)
        state = {k: v.clone() for k, v in compact.state_dict().items()}
        state["transformer.wte.weight"] = compact.transformer.wte.weight.detach()[self.row_of].clone()
        full.load_state_dict(state)
        return full


def read_stream(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.fromfile(path, dtype="<u2").astype(np.int64))


def stream_windows(stream: torch.Tensor) -> list[torch.Tensor]:
    """Consecutive windows of N_POSITIONS + 1 tokens overlapping by one: every token but the first is a target once."""
    return [stream[start : start + N_POSITIONS + 1] for start in range(0, len(stream) - 1, N_POSITIONS)]


@torch.no_grad()
def mean_loss(model: Gpt2, sequences: list[torch.Tensor], row_of: torch.Tensor, extra_nats: torch.Tensor) -> tuple[float, int]:
    """Mean next-token cross-entropy (nats) over all targets of `sequences`, one sequence at a time.

    `extra_nats[id]` is added to a target's loss: log(N_unseen) for unseen tokens under the compact
    softmax (the shared row's probability splits evenly among them), zeros for the full model.
    """
    model.eval()
    total, count = 0.0, 0
    for sequence in sequences:
        rows = row_of[sequence]
        hidden = model.transformer(rows[:-1].unsqueeze(0))[0]
        # 128 positions at a time keeps full-vocabulary logits under glibc's mmap threshold.
        for at in range(0, len(hidden), 128):
            logits = model.unembed(hidden[at : at + 128])
            targets = slice(at + 1, at + 1 + len(logits))
            losses = F.cross_entropy(logits, rows[targets], reduction="none") + extra_nats[sequence[targets]]
            total += losses.double().sum().item()
            count += len(losses)
    model.train()
    return total / count, count


def unigram_loss(train: torch.Tensor, sequences: list[torch.Tensor]) -> float:
    """Mean cross-entropy of training-token frequencies with add-one smoothing over the 50257 ids."""
    counts = torch.bincount(train, minlength=VOCAB_SIZE).double() + 1
    log_p = counts.log() - counts.sum().log()
    targets = torch.cat([s[1:] for s in sequences])
    return -log_p[targets].mean().item()


def learning_rate(step: int, steps: int) -> float:
    if step < WARMUP_STEPS:
        return PEAK_LR * (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, steps - WARMUP_STEPS)
    return PEAK_LR * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """safetensors: u64 LE header length, JSON header padded with spaces to 8 bytes, then F16 data."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    chunks, offset = [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().to(torch.float16).contiguous().numpy().astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for chunk in chunks:
            f.write(chunk)


def config_json(shape: Shape) -> dict[str, object]:
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": VOCAB_SIZE,
        "n_positions": N_POSITIONS,
        "n_ctx": N_POSITIONS,
        "n_embd": shape.n_embd,
        "n_layer": shape.n_layer,
        "n_head": shape.n_head,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": LAYER_NORM_EPSILON,
        "resid_pdrop": DROPOUT,
        "embd_pdrop": DROPOUT,
        "attn_pdrop": 0.0,
        "initializer_range": 0.02,
        "bos_token_id": END_OF_TEXT,
        "eos_token_id": END_OF_TEXT,
        "tie_word_embeddings": True,
        "torch_dtype": "float16",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--n-embd", type=int, default=Shape.n_embd)
    parser.add_argument("--n-layer", type=int, default=Shape.n_layer)
    parser.add_argument("--n-head", type=int, default=Shape.n_head)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    shape = Shape(args.n_embd, args.n_layer, args.n_head)

    torch.set_num_threads(args.threads)
    keep_large_buffers()
    torch.manual_seed(SEED)
    started = time.time()

    train = read_stream(args.data / "train.u16")
    validation = stream_windows(read_stream(args.data / "validation.u16"))
    sample = [torch.tensor(doc[:N_POSITIONS]) for doc in json.loads((args.data / "sample-tokens.json").read_text())]
    vocabulary = CompactVocabulary(train)
    compact_extra = torch.zeros(VOCAB_SIZE)
    compact_extra[vocabulary.row_of == vocabulary.shared_row] = math.log(vocabulary.unseen_count)
    print(f"train tokens {len(train)}, distinct {len(vocabulary.seen)}, unseen ids {vocabulary.unseen_count}", flush=True)

    model = Gpt2(shape, vocabulary.rows)
    # As many windows per forward as keep the float32 logits under LOGITS_BYTES: 2 for the 14.6k rows of Moby-Dick.
    micro_batch = max(1, min(BATCH_WINDOWS, LOGITS_BYTES // (N_POSITIONS * vocabulary.rows * 4)))
    accumulate = BATCH_WINDOWS // micro_batch
    model.logit_offset.copy_(vocabulary.logit_offset())
    decayed = [p for n, p in model.named_parameters() if p.dim() == 2]
    others = [p for n, p in model.named_parameters() if p.dim() != 2]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": WEIGHT_DECAY}, {"params": others, "weight_decay": 0.0}],
        lr=PEAK_LR, betas=(0.9, 0.95), eps=1e-8,
    )
    windows = torch.Generator().manual_seed(SEED)
    train_rows = vocabulary.row_of[train]
    best = {"loss": float("inf"), "step": -1, "state": None}
    history = []

    def evaluate(step: int) -> None:
        loss, _ = mean_loss(model, validation, vocabulary.row_of, compact_extra)
        history.append({"step": step, "validation_loss": round(loss, 4)})
        print(f"step {step:5d}  validation loss {loss:.4f}  perplexity {math.exp(loss):.1f}  {time.time() - started:.0f}s", flush=True)
        if loss < best["loss"]:
            best.update(loss=loss, step=step, state={k: v.clone() for k, v in model.state_dict().items()})

    running = 0.0
    for step in range(args.steps):
        if step % EVAL_EVERY == 0 and step > 0:
            evaluate(step)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps)
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for _ in range(accumulate):
            starts = torch.randint(0, len(train) - N_POSITIONS - 1, (micro_batch,), generator=windows)
            batch = torch.stack([train_rows[s : s + N_POSITIONS + 1] for s in starts.tolist()])
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1)) / accumulate
            loss.backward()
            step_loss += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        running = step_loss if step == 0 else 0.98 * running + 0.02 * step_loss
        if step % 50 == 0:
            elapsed = time.time() - started
            print(f"step {step:5d}  train loss {running:.4f}  lr {learning_rate(step, args.steps):.2e}  {elapsed:.0f}s", flush=True)
    evaluate(args.steps)
    train_seconds = time.time() - started

    model.load_state_dict(best["state"])
    full = vocabulary.expand(model)
    # Score the weights as stored: rounded to float16.
    full.load_state_dict({k: v.to(torch.float16).float() for k, v in full.state_dict().items()})
    identity, no_extra = torch.arange(VOCAB_SIZE), torch.zeros(VOCAB_SIZE)
    validation_loss, validation_targets = mean_loss(full, validation, identity, no_extra)
    sample_loss, sample_targets = mean_loss(full, sample, identity, no_extra)
    check = sample[:SAMPLE_CHECK_DOCUMENTS]
    check_loss, check_targets = mean_loss(full, check, identity, no_extra)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config_json(shape), indent=2) + "\n")
    tensors = {f"transformer.{k}": v for k, v in full.transformer.state_dict().items()}
    write_safetensors(args.out / "model.safetensors", tensors)

    def scored(loss: float, targets: int, baseline: float) -> dict[str, object]:
        return {"targets": targets, "loss": round(loss, 5), "perplexity": round(math.exp(loss), 3), "unigram_perplexity": round(math.exp(baseline), 3)}

    metrics = {
        "validation": {"windows": len(validation), **scored(validation_loss, validation_targets, unigram_loss(train, validation))},
        "sample": {
            "documents": len(sample),
            "note": f"each bundled paragraph as <|endoftext|> + its tokens, cut to the first {N_POSITIONS}",
            **scored(sample_loss, sample_targets, unigram_loss(train, sample)),
        },
        "sample_check": {
            "documents": len(check),
            "note": "the first documents of public/text-sample/moby-dick-sample.jsonl, scored as in 'sample'; checked by tests/model/text/builtInModel.test.ts",
            **scored(check_loss, check_targets, unigram_loss(train, check)),
        },
        "uniform_perplexity": VOCAB_SIZE,
        "training": {
            "steps": args.steps,
            "best_step": best["step"],
            "batch_tokens": BATCH_WINDOWS * N_POSITIONS,
            "train_tokens": len(train),
            "epochs": round(args.steps * BATCH_WINDOWS * N_POSITIONS / len(train), 2),
            "distinct_train_tokens": len(vocabulary.seen),
            "seconds": round(train_seconds),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "parameters": sum(t.numel() for t in tensors.values()),
            "history": history,
        },
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: v for k, v in metrics.items() if k != "training"}, indent=2))
    print(f"trained {train_seconds:.0f}s, total {time.time() - started:.0f}s; best step {best['step']}")


if __name__ == "__main__":
    main()
