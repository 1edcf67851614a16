"""flow: the appearance-flow network that warps a catalog garment onto a target region."""
