"""Generators of the bundled offline samples, one module per dataset, each with make_sample(dest)."""
