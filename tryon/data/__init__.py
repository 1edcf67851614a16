"""Data: the synthetic fashion generator, published-layout loaders and keypoint converters."""
