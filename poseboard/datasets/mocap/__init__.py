"""Motion import: BVH motion capture (and poseboard's own motion .npz) → poseboard's motion
``.npz`` (docs/studio_import.md). Imported motion is a test input, never training data."""
