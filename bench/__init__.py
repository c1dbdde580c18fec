"""Benchmarks of a coopnode node against bare-aiohttp baselines measured in the same run (`python -m bench`)."""
