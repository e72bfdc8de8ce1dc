"""A self-hosted server's cost by the hour: what one call pays for the GPU time it held.

An override of a local provider may price GPU time instead of tokens: `gpu_hour`, the
cost of one hour of the server (its GPUs, power, hosting: whatever the owner counts),
and optionally `tokens_per_second`, the server's measured throughput. A call's GPU time is

- its tokens (input + output) ÷ `tokens_per_second`, when the throughput is configured:
  a server batching concurrent calls shares each second among them, so this is the
  call's share of the hour;
- else its `latency_ms`: the wall time the call held the server, exact for a server
  answering one call at a time, an upper bound for one that batches;
- else unknown: the call keeps no cost (unpriced) until a throughput is configured,
  never a guessed $0.

cost = gpu_hour × seconds ÷ 3600, in `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from spendledger.records import TokenCounts

GPU_HOUR = "gpu_hour"
TOKENS_PER_SECOND = "tokens_per_second"
GPU_KEYS: tuple[str, ...] = (GPU_HOUR, TOKENS_PER_SECOND)
SECONDS_PER_HOUR = Decimal(3600)
_MS_PER_SECOND = Decimal(1000)


@dataclass(frozen=True, slots=True)
class GpuTime:
    per_hour: Decimal
    tokens_per_second: Decimal | None = None

    def seconds(self, tokens: TokenCounts, latency_ms: int | None) -> Decimal | None:
        """The GPU time a call held, by the module's rules; None when it cannot be told."""
        if self.tokens_per_second:
            return Decimal(tokens.input + tokens.output) / self.tokens_per_second
        if latency_ms is None:
            return None
        return Decimal(latency_ms) / _MS_PER_SECOND

    def cost(self, tokens: TokenCounts, latency_ms: int | None) -> Decimal | None:
        seconds = self.seconds(tokens, latency_ms)
        return None if seconds is None else self.per_hour * seconds / SECONDS_PER_HOUR

    def describe(self) -> dict[str, str]:
        out = {GPU_HOUR: f"{self.per_hour:f}"}
        if self.tokens_per_second:
            out[TOKENS_PER_SECOND] = f"{self.tokens_per_second:f}"
        return out
