"""TensorBoard event files for a training run, written with the tensorboard package's own event
writer (``tensorboard --logdir <model folder>/runs`` compares runs).

transformers' ``TensorBoardCallback`` goes through ``torch.utils.tensorboard``, which imports
TensorFlow when it is installed (Rasa installs it): about 9 s and a page of TensorFlow logs on
every fine-tune. The writer used here is the same file format without TensorFlow.
"""
from __future__ import annotations

import numbers
import time
from pathlib import Path

from transformers import TrainerCallback


class TensorBoardEvents(TrainerCallback):
    """Every number the Trainer logs (loss, learning rate, eval macro-F1, ...) as a scalar at
    its global step, under ``train/`` or ``eval/``; only the world's rank 0 writes."""

    def __init__(self, log_dir: str | Path):
        self.log_dir = Path(log_dir)
        self._writer = None

    def _writer_for(self, state):
        if self._writer is None and state.is_world_process_zero:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter

            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = EventFileWriter(str(self.log_dir))
        return self._writer

    def on_log(self, args, state, control, logs=None, **kwargs):
        writer = self._writer_for(state)
        if writer is None or not logs:
            return
        from tensorboard.compat.proto import event_pb2, summary_pb2

        values = []
        for key, value in logs.items():
            if isinstance(value, numbers.Number) and not isinstance(value, bool):
                tag = f"eval/{key[5:]}" if key.startswith("eval_") else f"train/{key}"
                values.append(summary_pb2.Summary.Value(tag=tag, simple_value=float(value)))
        if values:
            writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(state.global_step),
                                             summary=summary_pb2.Summary(value=values)))

    def on_train_end(self, args, state, control, **kwargs):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Tag -> [(step, value)] from the event files under ``log_dir`` (for tests and reports)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
