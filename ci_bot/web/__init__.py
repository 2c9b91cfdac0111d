"""The web side: the Flask app factory, webhooks, Slack interactions, the UI and
the JSON API.
"""
