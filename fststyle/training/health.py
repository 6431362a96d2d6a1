"""Run health: unreadable training images and non-finite losses, counted and bounded.

A single odd JPEG must not kill a 40k-step run, and a loss that went NaN must not silently
write NaN weights: both are counted, reported, and stop the run past a bound.
"""

import sys


class DataHealth:
    """Counts images skipped as unreadable (see data.SkippingDataset) against images served."""

    MIN_SEEN = 20  # judge the fraction only once a few batches were read

    def __init__(self):
        self.served, self.skip_events, self.names = 0, 0, set()

    @property
    def skipped(self) -> int:
        """Distinct unreadable images met so far (each epoch meets them again)."""
        return len(self.names)

    def update(self, served: int, skipped: list[str]) -> None:
        self.served += served
        self.skip_events += len(skipped)
        for name in skipped:
            if name not in self.names and len(self.names) < 5:
                print(f"fststyle: skipped unreadable training image {name}", file=sys.stderr)
            self.names.add(name)

    def check(self, max_fraction: float) -> None:
        seen = self.served + self.skip_events
        if seen >= self.MIN_SEEN and self.skip_events > max_fraction * seen:
            first = "; ".join(sorted(self.names)[:3])
            raise ValueError(
                f"{self.skip_events} of {seen} training images read were unreadable (more "
                f"than --data.max_bad_fraction {max_fraction}); e.g. {first}")


class NonFiniteLossError(RuntimeError):
    pass


class LossHealth:
    """Tracks non-finite losses: skip the step, stop after `max_in_a_row` in a row."""

    def __init__(self, max_in_a_row: int):
        if max_in_a_row < 1:
            raise ValueError(f"--model.max_nonfinite_steps must be >= 1, got {max_in_a_row}")
        self.max_in_a_row, self.in_a_row, self.total = max_in_a_row, 0, 0

    def check(self, finite: bool, step: int) -> bool:
        """Returns `finite` (decided by the caller, across ranks); counts and reports a
        non-finite step, and raises after max_in_a_row of them in a row."""
        if finite:
            self.in_a_row = 0
            return True
        self.in_a_row += 1
        self.total += 1
        print(f"fststyle: non-finite loss at step {step}: step skipped "
              f"({self.in_a_row} in a row)", file=sys.stderr)
        if self.in_a_row >= self.max_in_a_row:
            raise NonFiniteLossError(
                f"{self.in_a_row} non-finite losses in a row at step {step}: stopping. "
                "last.ckpt holds the last good weights; lower --model.lr or check the data")
        return False
