"""Hearth: a self-hosted Slack app for community belonging."""

__version__ = "0.1.0"
