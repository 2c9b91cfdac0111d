"""What the bot remembers of a pipeline's Slack message, kept in the pipeline's meta.

The channel and ``ts`` let a restarted bot keep editing the same message; ``told``
(the last run event told in the thread) lets it carry on the story where it
stopped, without repeating or skipping a reply.  ``slack.open`` marks pipelines
whose message does not show their final state yet (or was never posted): a
restarted bot brings those up to date.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ci_bot.store.store import Store

META_KEY = "slack"
OPEN_KEY = "slack.open"


@dataclass
class MessageRecord:
    channel: str  # a name ("#ci") until the message is posted, then Slack's id ("C0123…")
    ts: str = ""  # the message's timestamp: its id within the channel
    told: int = 0  # the last run event the thread has dealt with
    started: bool = False  # the thread said "started"
    failures: int = 0  # failure replies since the last reset (they are capped)
    hidden: int = 0  # failures not replied to because of the cap
    gave_up: str = ""  # Slack refused for good (channel_not_found, ...): leave this one alone

    @property
    def posted(self) -> bool:
        return bool(self.ts)


def load(store: Store, pipeline_id: int) -> MessageRecord | None:
    value = store.meta(pipeline_id).get(META_KEY)
    if not isinstance(value, dict):
        return None
    known = {f.name for f in fields(MessageRecord)}
    return MessageRecord(**{k: v for k, v in value.items() if k in known})


def save(store: Store, pipeline_id: int, record: MessageRecord) -> None:
    store.set_meta(pipeline_id, META_KEY, asdict(record))


def mark_open(store: Store, pipeline_id: int, is_open: bool) -> None:
    store.set_meta(pipeline_id, OPEN_KEY, is_open)


def open_messages(store: Store) -> list[int]:
    """Pipelines whose message may not show their final state yet."""
    return store.pipelines_with_meta(OPEN_KEY, True)


def message_of(store: Store, pipeline_id: int) -> tuple[str, str] | None:
    """(channel id, ts) of the pipeline's posted message, if it has one."""
    record = load(store, pipeline_id)
    return (record.channel, record.ts) if record and record.posted else None
