"""`python -m smgov.cli ARGS`: the same as the `smgov` console script."""

from smgov.cli import main

main()
