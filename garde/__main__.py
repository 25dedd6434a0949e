"""`python -m garde` runs the CLI."""

from garde.cli import main

main()
