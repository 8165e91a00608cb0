"""allocopt: exact, explainable sales-target allocation solved with HiGHS."""

__version__ = "0.1.0"
