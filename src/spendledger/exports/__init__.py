"""Renderings of query results: JSON, CSV and the CLI table read the same report."""
