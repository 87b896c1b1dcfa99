"""What the tests and the benchmarks both use: signed requests, stand-ins, the reliability run.

Not part of the bridge and not installed with it; importable from the repository root, where
pytest and `python -m bench.<name>` run.
"""
