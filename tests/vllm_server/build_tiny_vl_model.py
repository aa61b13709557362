"""Build a tiny random Qwen2-VL (vision) model for the real-vLLM tests (.venv-vllm's python).

Same tokenizer recipe as :mod:`build_tiny_model` plus the vision special tokens and a
chat template that places an image pad per image part; a 2-block vision tower (patch
14, merge 2) and a 2-layer language model, random weights through transformers
(torchvision must import: ``patch_torchvision.py``). The image processor caps images at
112x112 pixels, so each image costs 16 tokens. Usage: build_tiny_vl_model.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from build_tiny_model import SPECIALS, build_tokenizer, prefer_closing_quotes

VISION = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ['image', 'image_url'] %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def main(out: str) -> None:
    import torch
    from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor,
                              Qwen2VLProcessor, Qwen2VLVideoProcessor)

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(target, SPECIALS + VISION, TEMPLATE)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIALS + VISION}
    text = dict(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                tie_word_embeddings=True, rope_scaling={"type": "mrope", "mrope_section": [4, 6, 6]},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"])
    vision = dict(depth=2, embed_dim=64, hidden_size=128, num_heads=2, mlp_ratio=2, in_chans=3,
                  patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    config = Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                           video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                           vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=True,
                           bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"])
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config)
    with torch.no_grad():
        prefer_closing_quotes(model.get_input_embeddings().weight, tok, torch.Generator().manual_seed(1))
    model.save_pretrained(target, safe_serialization=True)
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=112 * 112),
                                 video_processor=Qwen2VLVideoProcessor(), tokenizer=tok, chat_template=TEMPLATE)
    processor.save_pretrained(target)
    _fix_token_ids(target / "config.json", ids["<|endoftext|>"], len(tok))
    (target / "BUILT").write_text("ok\n")
    print(f"tiny vision model in {target}")


def _fix_token_ids(path: Path, bos: int, vocab: int) -> None:
    """transformers fills Qwen's real bos id (151643) where none is given: out of this vocabulary."""
    def fix(node: dict) -> None:
        for key, value in list(node.items()):
            if key == "bos_token_id" and (value is None or value >= vocab):
                node[key] = bos
            elif isinstance(value, dict):
                fix(value)
    config = json.loads(path.read_text())
    fix(config)
    path.write_text(json.dumps(config, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/tiny-qwen2-vl")
