"""``python -m offloadlab``: the ``offloadlab`` command line."""

from offloadlab.cli import main

main(prog_name="offloadlab")
