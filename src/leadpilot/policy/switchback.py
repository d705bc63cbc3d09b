"""The switchback holdout: which time block a moment falls in, whether predictive routing
is ON or OFF in it, and whether the moment is in the washout after a switch.

Blocks are counted from the Unix epoch in whole ``block_minutes``, so every replica (and
the lift report, later) finds the same block for the same moment without shared state.
A block is OFF when a hash of ``(seed, block)`` maps below ``holdout``: random across
blocks, reproducible, and the same on every replica.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from leadpilot.policy.policy_file import Predictive

__all__ = ["SwitchbackSlot", "block_is_off", "switchback_slot"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SwitchbackSlot:
    """Where a moment falls: its block, whether the block is OFF (control: the fallback
    strategy), and whether it is in the washout after a switch (excluded from the lift)."""

    block: int
    off: bool
    washout: bool

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reason codes a decision in this slot carries."""
        arm = "SWITCHBACK_OFF" if self.off else "SWITCHBACK_ON"
        return (f"{arm}:{self.block}",) + (("WASHOUT",) if self.washout else ())


def block_is_off(seed: int, block: int, holdout: float) -> bool:
    """True when ``block`` is a control block (probability ``holdout`` over blocks)."""
    digest = hashlib.sha256(f"{seed}:{block}".encode()).digest()
    uniform = int.from_bytes(digest[:8], "big") / 2**64
    return uniform < holdout


def switchback_slot(predictive: Predictive, now: datetime) -> SwitchbackSlot:
    """The slot of ``now`` (aware) under ``predictive``'s switchback settings."""
    design = predictive.switchback
    seconds = (now - _EPOCH).total_seconds()
    block_seconds = design.block_minutes * 60
    block = int(seconds // block_seconds)
    off = block_is_off(design.seed, block, predictive.holdout)
    switched = block_is_off(design.seed, block - 1, predictive.holdout) != off
    into_block = seconds - block * block_seconds
    return SwitchbackSlot(block, off, switched and into_block < design.washout_minutes * 60)
