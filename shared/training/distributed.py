"""Data-parallel fine-tuning with PyTorch's own launcher (torchrun), the same Trainer inside.

``nlpsuite finetune ... --nproc N`` starts ``torchrun --standalone --nproc_per_node N`` on the
same command (without ``--nproc``); each process trains on its share of every batch, gloo on
CPU and NCCL on GPU (the Trainer and accelerate pick it), gradients are averaged, so the
weights stay identical across ranks. Only rank 0 writes the model folder, metrics, plots and
TensorBoard events. For several machines, run torchrun yourself on each (docs/scale.md):

    torchrun --nnodes 2 --node_rank R --nproc_per_node 2 --rdzv_backend c10d \\
        --rdzv_endpoint HOST:29400 -m shared.app.cli finetune --data ... --out ...
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Sequence


def rank() -> int:
    """This process's global rank under torchrun (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process writes results: rank 0, or the only process."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def without_option(argv: Sequence[str], name: str) -> list[str]:
    """``argv`` minus ``name VALUE`` / ``name=VALUE``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == name:
            skip = True
            continue
        if arg.startswith(name + "="):
            continue
        out.append(arg)
    return out


def launch(nproc: int, argv: Sequence[str], *, module: str = "shared.app.cli") -> int:
    """Run ``python -m module argv`` under ``torchrun --standalone --nproc_per_node nproc``
    and return its exit status (the first failing rank's)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", module, *argv]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(command, env=env).returncode


def weights_digest(model) -> str:
    """sha256 of every parameter's bytes, in name order: equal on every rank when DDP keeps
    the replicas in step."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def rank_digest_callback():
    """A Trainer callback that logs each rank's weights digest at the end of every epoch
    ("rank 1 of 2: epoch 1.0 weights sha256 ..."), so a run shows that its replicas agree."""
    import logging

    from transformers import TrainerCallback

    log = logging.getLogger("shared.training")

    class RankWeightsDigest(TrainerCallback):
        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            if model is not None:
                log.info("rank %d of %d: epoch %.1f weights sha256 %s", rank(), world_size(),
                         float(state.epoch or 0), weights_digest(model))

    return RankWeightsDigest()
