"""Operational pieces of the warehouse: publishing results for readers."""
