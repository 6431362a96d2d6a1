"""What machine a run or a benchmark ran on: every published timing names the CPU model and its
vector extensions, because the same step is ~2x faster with AVX512-BF16 than with AVX2 only."""

import os
import platform
from pathlib import Path

# /proc/cpuinfo flag -> the name timings are published under, in the order they are printed.
CPU_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "VNNI",
             "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16"}
# Environment variables that make oneDNN and ATen use an older instruction set than the CPU has.
ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def cpu_info() -> tuple[str, list[str]]:
    """(model name, [published names of CPU_FLAGS it has]); flags [] off Linux."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), []
    fields = dict(line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return fields.get("model name", platform.machine()), [v for k, v in CPU_FLAGS.items()
                                                          if k in flags]


def describe_cpu() -> str:
    """'Intel(R) Xeon(R) Processor, 2 CPUs, AVX2 AVX-512 VNNI AVX512-BF16', plus the limits
    set by ONEDNN_MAX_CPU_ISA / ATEN_CPU_CAPABILITY (which emulate an older CPU class)."""
    model, flags = cpu_info()
    limits = [f"{k}={os.environ[k]}" for k in ISA_LIMITS if os.environ.get(k)]
    return (f"{model}, {os.cpu_count()} CPUs, {' '.join(flags) or 'flags unknown'}"
            + (f" (limited by {' '.join(limits)})" if limits else ""))


def physical_cores() -> int:
    """Physical cores (distinct (physical id, core id) pairs in /proc/cpuinfo), else the CPU
    count: hyper-threads share one core's vector units."""
    try:
        blocks = Path("/proc/cpuinfo").read_text().strip().split("\n\n")
    except OSError:
        return os.cpu_count() or 1
    cores = set()
    for block in blocks:
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        cores.add((fields.get("physical id"), fields.get("core id")))
    if not cores or any(None in core for core in cores):  # no topology (e.g. some VMs, ARM)
        return os.cpu_count() or 1
    return len(cores)
