"""Exports a GPT-2 forward that stops at one recordable layer as an ONNX graph, for bench/gpt2.ts's ONNX Runtime Web rows.

Reads a Hugging Face GPT-2 checkpoint folder (config.json + model.safetensors; names with or without
`transformer.`; F32, F16 or BF16 values, all run as float32), builds the forward in plain PyTorch and
exports it with input `input_ids` int64 [batch, tokens] and output `activations` [batch, tokens, width],
batch and tokens dynamic. The layers mean what `Gpt2Model.record` (src/model/text/gpt2.ts) records:
`h.I.attn` the attention output after c_proj, `h.I.mlp.act` the MLP neurons after GELU, `h.I` the
residual stream after block I. Only the weights up to that layer go into the graph.

Usage: python3 scripts/export-gpt2-onnx.py --model-dir models/text-gpt2 --layer h.2.mlp.act --out FILE.onnx
Needs PyTorch >= 1.13 (Debian: apt-get install python3-torch) and nothing else: safetensors is parsed
here, and torch.onnx.export needs no `onnx` package. The benchmark runs it when its graph is missing;
CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
from pathlib import Path

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
PREFIX = "transformer."
MASK_BUFFER = re.compile(r"(^|\.)attn\.(bias|masked_bias)$")
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")
# What src/model/text/gpt2.ts adds to the scores of future positions; exp() of it underflows to exactly 0.
MASKED_SCORE = -1e9
OPSET = 17


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Float tensors by name without `transformer.`, as float32; mask buffers and lm_head left out."""
    raw = bytearray(path.read_bytes())
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_length])
    data = memoryview(raw)[8 + header_length :]
    tensors: dict[str, torch.Tensor] = {}
    for name, entry in header.items():
        bare = name[len(PREFIX) :] if name.startswith(PREFIX) else name
        if name == "__metadata__" or MASK_BUFFER.search(bare) or bare == "lm_head.weight":
            continue
        if entry["dtype"] not in DTYPES:
            raise SystemExit(f"{path}: tensor {name} has dtype {entry['dtype']}; expected one of {', '.join(DTYPES)}.")
        start, end = entry["data_offsets"]
        values = torch.frombuffer(data[start:end], dtype=DTYPES[entry["dtype"]]) if end > start else torch.empty(0)
        tensors[bare] = values.reshape(entry["shape"]).to(torch.float32)
    return tensors


def parse_layer(layer: str, n_layer: int) -> tuple[int, str]:
    """(block, part) of `h.I.attn`, `h.I.mlp.act` or `h.I`; part is 'attn', 'mlp.act' or 'resid'."""
    match = re.fullmatch(r"h\.(0|[1-9]\d*)(\.attn|\.mlp\.act)?", layer)
    if not match or int(match.group(1)) >= n_layer:
        raise SystemExit(f"{layer} is not a layer of this GPT-2; layers are h.I.attn, h.I.mlp.act and h.I for I in 0..{n_layer - 1}.")
    return int(match.group(1)), (match.group(2) or ".resid")[1:]


def read_up_to(name: str, block: int) -> bool:
    """Whether the forward up to block `block` reads this weight: not ln_f, not a later block's."""
    if name.startswith("ln_f."):
        return False
    return not name.startswith("h.") or int(name.split(".")[1]) <= block


class Gpt2UpTo(torch.nn.Module):
    """GPT-2's forward from token ids to one recordable layer, with the checkpoint's weights as constants."""

    def __init__(self, config: dict, weights: dict[str, torch.Tensor], block: int, part: str):
        super().__init__()
        # Widths are Python ints from the config, not traced tensor shapes, so the graph keeps them constant.
        self.n_embd = config["n_embd"]
        self.n_head = config["n_head"]
        self.eps = config.get("layer_norm_epsilon", 1e-5)
        self.block = block
        self.part = part
        # ParameterDict keys cannot hold dots.
        self.weights = torch.nn.ParameterDict(
            {name.replace(".", "_"): torch.nn.Parameter(value, requires_grad=False) for name, value in weights.items() if read_up_to(name, block)}
        )
        positions = config.get("n_positions", config.get("n_ctx"))
        self.register_buffer("causal_mask", torch.full((positions, positions), MASKED_SCORE).triu(1))

    def w(self, name: str) -> torch.Tensor:
        key = name.replace(".", "_")
        if key not in self.weights:
            raise SystemExit(f"The checkpoint has no tensor {name} (looked for {name!r} and {PREFIX + name!r}).")
        return self.weights[key]

    def to_heads(self, t: torch.Tensor, batch: int, tokens: int) -> torch.Tensor:
        """[batch, tokens, n_embd] -> [batch, n_head, tokens, head_dim]."""
        return t.reshape(batch, tokens, self.n_head, self.n_embd // self.n_head).transpose(1, 2)

    def linear(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        """A Conv1D: x · weight [in, out] + bias."""
        return x @ self.w(f"{prefix}.weight") + self.w(f"{prefix}.bias")

    def layer_norm(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.layer_norm(x, (self.n_embd,), self.w(f"{prefix}.weight"), self.w(f"{prefix}.bias"), self.eps)

    def attention(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        batch, tokens, _ = x.shape
        width = self.n_embd
        head_dim = width // self.n_head
        q, k, v = (self.to_heads(t, batch, tokens) for t in self.linear(x, f"{prefix}.c_attn").split(width, dim=2))
        scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + self.causal_mask[:tokens, :tokens]
        mixed = torch.softmax(scores, dim=-1) @ v
        return self.linear(mixed.transpose(1, 2).reshape(batch, tokens, width), f"{prefix}.c_proj")

    @staticmethod
    def gelu_new(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        tokens = input_ids.shape[1]
        x = F.embedding(input_ids, self.w("wte.weight")) + self.w("wpe.weight")[:tokens]
        for i in range(self.block + 1):
            h = f"h.{i}"
            attention = self.attention(self.layer_norm(x, f"{h}.ln_1"), f"{h}.attn")
            if i == self.block and self.part == "attn":
                return attention
            x = x + attention
            neurons = self.gelu_new(self.linear(self.layer_norm(x, f"{h}.ln_2"), f"{h}.mlp.c_fc"))
            if i == self.block and self.part == "mlp.act":
                return neurons
            x = x + self.linear(neurons, f"{h}.mlp.c_proj")
        return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="folder with config.json and model.safetensors")
    parser.add_argument("--layer", required=True, help="h.I.attn, h.I.mlp.act or h.I")
    parser.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    args = parser.parse_args()

    config = json.loads((args.model_dir / "config.json").read_text())
    if config.get("activation_function", "gelu_new") not in TANH_GELU:
        raise SystemExit(f"activation_function is {config['activation_function']!r}; GPT-2 uses the tanh GELU ({' or '.join(TANH_GELU)}).")
    block, part = parse_layer(args.layer, config["n_layer"])
    model = Gpt2UpTo(config, read_safetensors(args.model_dir / "model.safetensors"), block, part).eval()

    example = torch.zeros((2, 8), dtype=torch.int64)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so an interrupted export never leaves a graph that looks finished.
    partial = args.out.with_name(args.out.name + ".partial")
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(partial),
            input_names=["input_ids"],
            output_names=["activations"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "activations": {0: "batch", 1: "tokens"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    partial.rename(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): {args.model_dir} up to {args.layer}, opset {OPSET}")


if __name__ == "__main__":
    main()
