"""``python -m allocopt.cli``."""

from allocopt.cli import main

main()
