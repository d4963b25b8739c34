"""oncall: configuration-as-code incident response and on-call paging."""

__version__ = "0.1.0"
