"""The `oncall` command line."""
