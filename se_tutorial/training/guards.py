"""What stops a run early, and what it then says: divergence and Ctrl-C.

The training loop calls these at clear points: :class:`DivergenceWatch`
after each optimizer step, :func:`check_test_loss` after each evaluation, and
:func:`reporting_stops` around the whole run, which turns a divergence or a
Ctrl-C into a message that says truthfully what the checkpoint holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ..utils.errors import SETutorialError
from .distributed import all_reduce_sum

#: A training or test loss this many times that of guessing uniformly (ln of the class
#: count) means the run has diverged: even a badly trained model stays within a few times of it.
EXPLODED_LOSS_FACTOR = 10.0
#: Steps between two divergence checks; each one waits for the device, so not every step.
CHECK_EVERY = 25


class TrainingDivergedError(SETutorialError, FloatingPointError):
    """Training diverged: a loss, a weight or a batch-norm statistic became non-finite, or the test loss exploded.

    ``epoch`` and ``step`` (1-based) locate the step that diverged and ``lr``
    is the learning rate that step used; ``checkpoint`` is the last good
    checkpoint, or ``None`` if none was written.
    """

    def __init__(self, message: str, *, epoch: int, step: int, lr: float, checkpoint: Path | None) -> None:
        super().__init__(message)
        self.epoch, self.step, self.lr, self.checkpoint = epoch, step, lr, checkpoint


class NonFiniteLossError(TrainingDivergedError):
    """The training loss, the weights or the batch-norm statistics became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``; says whether a checkpoint to resume from exists.

    ``saved_epoch`` is the last epoch the checkpoint holds, or ``None`` when no
    checkpoint exists (none was asked for, or the first epoch had not ended).
    """

    def __init__(self, checkpoint: Path | None, saved_epoch: int | None, resume_hint: str = "resume=True"):
        self.checkpoint, self.saved_epoch = checkpoint, saved_epoch
        super().__init__(self.describe(resume_hint))

    def describe(self, resume_hint: str) -> str:
        """The message, with resuming spelled as the caller spells it (``--resume`` on the command line)."""
        if self.checkpoint is None:
            return "Training was interrupted; no checkpoint was asked for, so its progress is lost."
        if self.saved_epoch is None:
            return (
                f"Training was interrupted before its first epoch ended; no checkpoint exists yet "
                f"at {self.checkpoint}, so a new run starts from the beginning."
            )
        return (
            f"Training was interrupted; the last finished epoch ({self.saved_epoch}) is saved in "
            f"{self.checkpoint}. Continue from it with {resume_hint}."
        )


def loss_limit(num_classes: int) -> float:
    """The cross-entropy beyond which a run has diverged: far above guessing uniformly's ln(C)."""
    return EXPLODED_LOSS_FACTOR * math.log(max(num_classes, 2))


class DivergenceWatch:
    """One epoch's losses and weight health, kept on the device and checked every :data:`CHECK_EVERY` steps.

    :meth:`record` after each optimizer step stores the loss and whether every
    weight and batch-norm statistic is still finite, without waiting for the
    device; every few steps, and at the last, it raises
    :class:`NonFiniteLossError` or :class:`TrainingDivergedError` for the
    first step (on any rank) that went wrong.
    """

    def __init__(self, model: nn.Module, steps: int, epoch: int, num_classes: int, device: torch.device):
        self.model, self.epoch, self.limit = model, epoch, loss_limit(num_classes)
        self.losses = torch.zeros(steps, device=device)
        self.healthy = torch.ones(steps, dtype=torch.bool, device=device)
        self.watched = [t for t in (*model.parameters(), *model.buffers()) if torch.is_floating_point(t)]
        self.rates: list[float] = []  # the learning rate of every step, to name the one that diverged

    def record(self, step: int, loss: torch.Tensor, lr: float) -> bool:
        """Store step ``step``'s loss and health; check if it is time. Returns whether it checked."""
        self.rates.append(lr)
        self.losses[step] = loss.detach()  # unscaled: the checks see the real loss
        self.healthy[step] = _all_finite(self.watched)
        if step % CHECK_EVERY and step != len(self.losses) - 1:
            return False
        self._check(step + 1)
        return True

    def _check(self, steps: int) -> None:
        losses, healthy = self.losses[:steps], self.healthy[:steps]
        bad = all_reduce_sum(
            torch.stack([~torch.isfinite(losses), ~healthy, ~(losses <= self.limit)]).float()
        )
        if not bad.any():
            return
        step = int(bad.sum(0).nonzero()[0])
        error: type[TrainingDivergedError] = NonFiniteLossError
        if bad[0, step]:
            what = f"the training loss became {losses[step].item()}"
        elif bad[1, step]:
            named = [*self.model.named_parameters(), *self.model.named_buffers()]
            broken = [name for name, t in named if torch.is_floating_point(t) and not t.isfinite().all()]
            what = f"the weights or batch-norm statistics became non-finite (first: {', '.join(broken[:3])})"
        else:
            error = TrainingDivergedError
            what = f"the training loss exploded to {losses[step].item():.4g} (beyond {self.limit:.3g})"
        rate = self.rates[step]
        raise error(
            f"{what} at epoch {self.epoch + 1}, step {step + 1} (learning rate {rate:.3g}); the run "
            "diverged. Lower the learning rate (lr=...), e.g. halve it, and train again.",
            epoch=self.epoch + 1, step=step + 1, lr=rate, checkpoint=None,
        )  # fmt: skip


def check_test_loss(test_loss: float, num_classes: int, epoch: int, steps: int, lr: float) -> None:
    """Raise :class:`TrainingDivergedError` if the test loss is non-finite or far above chance's."""
    limit = loss_limit(num_classes)
    if math.isfinite(test_loss) and test_loss <= limit:
        return
    raise TrainingDivergedError(
        f"the test loss after epoch {epoch + 1} is {test_loss:.4g}, beyond {limit:.3g} "
        f"({EXPLODED_LOSS_FACTOR:g} times that of guessing uniformly): the run diverged by "
        f"epoch {epoch + 1}, step {steps} (learning rate {lr:.3g}). Lower the learning rate "
        "(lr=...), e.g. halve it, and train again.",
        epoch=epoch + 1, step=steps, lr=lr, checkpoint=None,
    )  # fmt: skip


@contextmanager
def reporting_stops(checkpoint: Path | None, saved_epoch: Callable[[], int | None]) -> Iterator[None]:
    """Around a run: a divergence or Ctrl-C leaves with what ``checkpoint`` holds (``saved_epoch()``)."""
    try:
        yield
    except TrainingDivergedError as error:  # add what is left on disk, truthfully
        saved = saved_epoch()
        raise type(error)(
            f"{error} {_kept(checkpoint, saved)}", epoch=error.epoch, step=error.step, lr=error.lr,
            checkpoint=checkpoint if saved else None,
        ) from None  # fmt: skip
    except KeyboardInterrupt:
        raise TrainingInterrupted(checkpoint, saved_epoch()) from None


def _all_finite(tensors: list[torch.Tensor]) -> torch.Tensor:
    """One device-side flag, no sync: are all of ``tensors`` free of NaN and infinity?"""
    if not tensors:
        return torch.ones((), dtype=torch.bool)
    return torch.stack([t.isfinite().all() for t in tensors]).all()


def _kept(checkpoint: Path | None, saved_epoch: int | None) -> str:
    """What a diverged run leaves behind, truthfully."""
    if checkpoint is None:
        return "No checkpoint was asked for."
    if saved_epoch is None:
        return f"No checkpoint was written to {checkpoint}: the run diverged before an epoch ended healthy."
    return f"The checkpoint of epoch {saved_epoch}, the last healthy one, is kept in {checkpoint}."
