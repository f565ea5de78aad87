"""`python -m sharedsvc` runs the command line."""

from sharedsvc.cli import main

main(prog_name="sharedsvc")
