"""Build a tiny random Qwen2 chat model for the real-vLLM tests (run with .venv-vllm's python).

Nothing is downloaded: a byte-level BPE tokenizer is trained on a small corpus that
includes JSON punctuation and the prompts' own words, and a Qwen2 model with random
weights (hidden 128, 2 layers, 4 heads of 32) is saved as safetensors. It writes
garbage inside valid JSON, which is all the tests need: they check schema validity,
bookkeeping and retries, never content. Usage: build_tiny_model.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def corpus() -> list[str]:
    root = Path(__file__).resolve().parents[2]
    texts = [p.read_text() for p in sorted(root.glob("prompts/*/v*.yaml"))]
    texts += [(root / "rules" / "expert_rules.yaml").read_text()]
    texts += ['{"action": "refine search condition", "info": "black"}, [1, 2.5, true, null]'] * 50
    texts += ["".join(chr(c) for c in range(32, 127))] * 20
    return texts


def build_tokenizer(out: Path, specials: list[str] = SPECIALS, template: str = CHAT_TEMPLATE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None, additional_special_tokens=specials[1:])
    fast.chat_template = template
    fast.save_pretrained(out)
    return fast


def prefer_closing_quotes(embed, tokenizer, generator):
    """A shared direction in every (tied) embedding, and the quote token strongly along it:
    the random model then closes strings early, so answers stay short and requests fast.
    The grammar still decides what is allowed."""
    import torch

    common = torch.randn(embed.shape[1], generator=generator)
    common = common / common.norm()
    embed += 0.5 * common
    embed[tokenizer.convert_tokens_to_ids('"')] += 4.0 * common
    return embed


def build_model(out: Path, tokenizer) -> None:
    """Random Qwen2 weights written directly (transformers' modelling module drags in
    torchvision, whose PyPI build fails to import here)."""
    import torch
    from safetensors.torch import save_file

    hidden, inter, layers, heads, kv_heads = 128, 256, 2, 4, 2
    head = hidden // heads
    vocab = len(tokenizer)
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=g) * 0.05  # noqa: E731
    embed = prefer_closing_quotes(rand(vocab, hidden), tokenizer, g)
    weights = {"model.embed_tokens.weight": embed, "model.norm.weight": torch.ones(hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        weights.update({
            p + "self_attn.q_proj.weight": rand(hidden, hidden), p + "self_attn.q_proj.bias": torch.zeros(hidden),
            p + "self_attn.k_proj.weight": rand(kv_heads * head, hidden),
            p + "self_attn.k_proj.bias": torch.zeros(kv_heads * head),
            p + "self_attn.v_proj.weight": rand(kv_heads * head, hidden),
            p + "self_attn.v_proj.bias": torch.zeros(kv_heads * head),
            p + "self_attn.o_proj.weight": rand(hidden, hidden),
            p + "mlp.gate_proj.weight": rand(inter, hidden), p + "mlp.up_proj.weight": rand(inter, hidden),
            p + "mlp.down_proj.weight": rand(hidden, inter),
            p + "input_layernorm.weight": torch.ones(hidden), p + "post_attention_layernorm.weight": torch.ones(hidden),
        })
    save_file({k: v.contiguous() for k, v in weights.items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": vocab,
              "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
              "num_attention_heads": heads, "num_key_value_heads": kv_heads, "hidden_act": "silu",
              "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
              "tie_word_embeddings": True, "torch_dtype": "float32", "use_sliding_window": False,
              "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"), "eos_token_id": eos}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": eos, "do_sample": False}))


def main(out: str) -> None:
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(target)
    build_model(target, tokenizer)
    (target / "BUILT").write_text("ok\n")
    print(f"tiny model in {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/tiny-qwen2")
