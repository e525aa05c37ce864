"""Repositories: typed reads and writes of domain rows, always filtered by tenant."""
