"""GitHub: auth (App JWT, installation tokens, personal token), check runs,
commit statuses and comments.
"""
