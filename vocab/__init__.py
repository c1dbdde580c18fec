"""Vocabulary, JSON-LD contexts, models and JSON-LD/RDF bridging for coopnode; pure, no I/O beyond its own files."""
