"""Adapters to the outside services ci-bot reports to: GitHub and Slack."""
