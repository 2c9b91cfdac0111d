"""Slack: one message per pipeline edited in place, its thread, request
verification for interactions.
"""
