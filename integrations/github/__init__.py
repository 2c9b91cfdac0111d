"""GitHub: auth (App JWT, installation tokens, personal token), check runs,
commit statuses and comments, every REST call through PyGithub (``client.py``).
"""
