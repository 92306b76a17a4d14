"""Sketches of normalized text: shingle hashes and MinHash signatures, with the optional C accelerator
(loaded in one place, `dedup.sketch.native`)."""
