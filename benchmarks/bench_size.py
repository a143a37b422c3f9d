"""Print the wall time of `accelsim size` for DeepSeek-V3 at 20 req/s with Azure 2023
conversation lengths on two devices (printed, never asserted). Issue 18's target: <= 10 s on
the 2-core machine, with a progress bar (the issue measured 19-46 s before its speed work)."""

from __future__ import annotations

import time

from accelsim.cli import main

ARGS = [
    "size",
    "--device",
    "ascend-910b2",
    "--device",
    "a100-sxm4-80gb",
    "--rate",
    "20/s",
    "--lengths",
    "azure-conv-2023",
    "--slo",
    "ttft_p99=2s,tpot_p99=100ms",
]

if __name__ == "__main__":
    start = time.perf_counter()
    main(ARGS)
    print(
        f"accelsim size (2 devices, 20 req/s, Azure conv lengths): "
        f"{time.perf_counter() - start:.1f} s wall"
    )
