"""`python -m orbit_pipelines.cli`: the `orbit` command."""

from orbit_pipelines.cli import main

main()
