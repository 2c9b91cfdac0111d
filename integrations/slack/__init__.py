"""Slack: one message per pipeline edited in place, its thread, request
verification for interactions.  See docs/slack.md.

reporter.py   the Reporter (run events → when to post, edit, reply; rate limits)
view.py       the pipeline as the message shows it, read from the store
blocks.py     the message as Block Kit (pure)
story.py      the thread's replies (pure)
client.py     the one seam to Slack's Web API (slack-sdk), secrets masked
record.py     what is kept in the pipeline's meta (channel, ts, thread progress)
channel.py    which channel: the event entry's slack_channel, else the default
mrkdwn.py     escaping, links, mentions, limits
verify.py     X-Slack-Signature and the five-minute window
actions.py    interaction payloads → clicks
"""
