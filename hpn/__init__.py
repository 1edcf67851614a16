"""hpn: the High-Resolution Pose Transfer Network (pose maps, model, losses, trainer, metrics)."""
