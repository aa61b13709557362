"""Shared by the benchmarks: peak memory of a child run, and writing a section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nLatest figures from `benchmarks/`; each section is rewritten by its script.\n"


def machine() -> str:
    """Architecture, processor model and the vector instructions that change the figures, cores, Python."""
    import os

    return f"{platform.machine()}{_processor()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _processor() -> str:
    """`` (AMD EPYC; AVX-512, AVX512-BF16)``-style from /proc/cpuinfo; empty where it cannot be read."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8", errors="replace").read()
    except OSError:
        return ""
    fields = {key.strip(): value for key, value in (line.split(":", 1) for line in text.split("\n\n")[0].splitlines()
                                                     if ":" in line)}  # the first processor's block
    model = " ".join(fields.get("model name", "").split())
    flags = set(fields.get("flags", "").split())
    named = [name for flag, name in (("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX"))
             if flag in flags]
    return f" ({model}; {', '.join(named) or 'no AVX-512'})" if model else ""


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[int, str, int]:
    """Run ``cmd``; (exit code, its stdout, peak RSS in bytes of its whole process tree, sampled every 0.1 s)."""
    import subprocess
    import time

    import psutil

    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    return child.returncode, child.stdout.read(), peak


def update_section(title: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the ``## title`` section of the benchmarks page."""
    text = doc.read_text() if doc.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def update_subsections(title: str, bodies: dict[str, str], doc: Path = DOC) -> None:
    """Replace (or append) some ``### sub`` subsections of the ``## title`` section, keeping the rest."""
    text = doc.read_text() if doc.exists() else HEADER
    match = re.search(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", text, re.S | re.M)
    section = match.group(0).rstrip() + "\n" if match else ""
    for sub, body in bodies.items():
        block = f"### {sub}\n\n{body.strip()}\n"
        pattern = re.compile(rf"^### {re.escape(sub)}\n.*?(?=^### |\Z)", re.S | re.M)
        section = (pattern.sub(lambda _: block + "\n", section) if pattern.search(section)
                   else section.rstrip() + "\n\n" + block)
    update_section(title, section.split("\n", 1)[1] if section.startswith("## ") else section, doc)


def update_section_first(title: str, body: str, doc: Path = DOC) -> None:
    """Replace the ``## title`` section of the benchmarks page and move it first, before every other section."""
    text = doc.read_text() if doc.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    text = re.sub(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", "", text, flags=re.S | re.M)
    first = re.search(r"^## ", text, re.M)
    head, rest = (text[:first.start()], text[first.start():]) if first else (text, "")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(head.rstrip() + "\n\n" + section + ("\n" + rest.rstrip() + "\n" if rest else ""))
