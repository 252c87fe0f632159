"""jumpup: STEP 1 scoring and growth-path pipeline for the Jump-Up (도약) scale-up program."""

__version__ = "0.1.0"
