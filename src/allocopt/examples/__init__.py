"""Example plans: :func:`generate_plan` writes a deterministic synthetic scenario and its data
tables (``benchmarks/generate.py``); :func:`write_project` puts the example project of
``allocopt init`` into a folder.

:func:`generate_plan` imports nothing else of allocopt; :mod:`.project` writes through
:mod:`allocopt.outputs.runfolder`, so this package sits with the pipeline in the layers
(docs/architecture.md).
"""

from allocopt.examples.generate import DEFAULT_PRODUCTS, generate_plan
from allocopt.examples.project import write_project

__all__ = ["DEFAULT_PRODUCTS", "generate_plan", "write_project"]
