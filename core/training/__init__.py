"""core.training: the one resumable training loop and its parts.

- :mod:`core.training.loop`: :class:`~core.training.loop.Trainer`, the
  :class:`~core.training.loop.TrainingTask` a network supplies, :class:`~core.training.loop.
  LoopOptions` its options derive from;
- :mod:`core.training.rng`: seeding and RNG snapshots;
- :mod:`core.training.data`: the resumable (and sharded) data order;
- :mod:`core.training.checkpoints`: atomic checkpoints that are model directories;
- :mod:`core.training.records`: the JSONL log, progress bar, ``options.json``, Ctrl-C;
- :mod:`core.training.distributed`: ``torchrun`` process groups, DDP, all-reduces;
- :mod:`core.training.schedule`: learning-rate schedules.

A new network adds a config, a module, a :class:`~core.training.loop.TrainingTask` (its
step, losses and samples) and a :mod:`core.registry` entry; it never writes a loop.
"""
