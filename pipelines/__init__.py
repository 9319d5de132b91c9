"""Field MRV: survey batches in, emission reductions and verifier packages out.

`pipelines` is the *how* of the project: plain Python that reads exports, validates rows, computes
methodology results and writes reports. Dagster declarations live in `assets/`; they are joined in
`pipelines.definitions`.
"""

__version__ = "0.1.0"
