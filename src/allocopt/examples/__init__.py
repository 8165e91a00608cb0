"""Example plans: :func:`generate_plan` writes a deterministic synthetic scenario and its data
tables (``allocopt init``, ``benchmarks/generate.py``)."""

from allocopt.examples.generate import DEFAULT_PRODUCTS, generate_plan

__all__ = ["DEFAULT_PRODUCTS", "generate_plan"]
