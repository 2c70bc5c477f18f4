"""Dask distributed, for running past one machine: connecting to a scheduler, and the
bundle of project files that carries step code to workers."""
