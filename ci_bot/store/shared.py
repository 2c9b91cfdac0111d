"""What must follow a pipeline from host to host when it runs on many workers: its
$CI_DATA files, its source snapshot, and its nodes' logs as they are written.

Files are content-addressed: a blob per distinct content, and per pipeline a table
of paths naming blobs. A node that ends done changes only the paths it changed, in
one transaction, so two parallel nodes' outputs merge instead of one overwriting
the other. Logs arrive in chunks at their byte offset, so a reader anywhere can
follow a node running on any worker.

Used only when the bot is scaled out (``CI_BOT_BROKER_URL``); on one host the data
dir is the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ci_bot.store.tables import Base, ExecutionRow
from ci_bot.store.transactions import Transactions, utcnow
from ci_bot.tree.states import State


class BlobRow(Base):
    __tablename__ = "shared_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SharedFileRow(Base):
    """One file of a pipeline's $CI_DATA as the last node to change it left it."""

    __tablename__ = "shared_files"

    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    mode: Mapped[int] = mapped_column(Integer)


class SourceArchiveRow(Base):
    """A pipeline's source snapshot, as a tar blob, for workers on other hosts."""

    __tablename__ = "shared_sources"

    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))


class LogChunkRow(Base):
    __tablename__ = "log_chunks"

    execution_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class SharedFile:
    sha256: str
    mode: int


Manifest = Mapping[str, SharedFile]


class Claim(StrEnum):
    CLAIMED = "claimed"  # this worker runs it now
    FINISHED = "finished"  # it ended already (cancelled, or run elsewhere): nothing to do
    TAKEN = "taken"  # another worker runs it and still beats: a duplicate delivery
    LOST = "lost"  # another worker had it and stopped beating: that worker is gone


class SharedRecords(Transactions):
    # --- which worker runs an execution ------------------------------------------------

    def claim_execution(self, execution_id: int, worker: str, stale_seconds: float) -> Claim:
        """One atomic decision (a row lock where the database has them): two deliveries
        of one task never both run it."""
        now = utcnow()
        with self._write() as session:
            row = session.scalars(
                select(ExecutionRow).where(ExecutionRow.id == execution_id).with_for_update()
            ).one()
            if row.state not in (State.QUEUED.value, State.RUNNING.value):
                return Claim.FINISHED
            if row.worker is None:
                row.worker, row.heartbeat_at = worker, now
                return Claim.CLAIMED
            if row.worker == worker:
                return Claim.TAKEN  # a second delivery of it reached this same worker
            beat = row.heartbeat_at
            if beat is not None and now - beat < timedelta(seconds=stale_seconds):
                return Claim.TAKEN
            return Claim.LOST

    def heartbeat(self, execution_id: int, worker: str) -> None:
        with self._write() as session:
            session.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id == execution_id, ExecutionRow.worker == worker)
                .values(heartbeat_at=utcnow())
            )

    # --- blobs -------------------------------------------------------------------------

    def put_blob(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under its hash once (a second writer of the same hash is a no-op)."""
        if self.has_blob(sha256):
            return
        with self._write() as session:
            if session.get(BlobRow, sha256) is None:
                session.add(BlobRow(sha256=sha256, data=data))

    def has_blob(self, sha256: str) -> bool:
        with self._read() as session:
            return session.get(BlobRow, sha256) is not None

    def blob(self, sha256: str) -> bytes:
        with self._read() as session:
            row = session.get(BlobRow, sha256)
            if row is None:
                raise KeyError(f"no shared blob {sha256}")
            return row.data

    # --- $CI_DATA ----------------------------------------------------------------------

    def shared_files(self, pipeline_id: int) -> dict[str, SharedFile]:
        with self._read() as session:
            rows = session.scalars(
                select(SharedFileRow).where(SharedFileRow.pipeline_id == pipeline_id)
            )
            return {row.path: SharedFile(row.sha256, row.mode) for row in rows}

    def change_shared_files(
        self, pipeline_id: int, changes: Mapping[str, SharedFile | None]
    ) -> None:
        """Set (or, for None, remove) these paths, in one transaction; others stay."""
        if not changes:
            return
        with self._write() as session:
            for path, file in changes.items():
                session.execute(
                    delete(SharedFileRow).where(
                        SharedFileRow.pipeline_id == pipeline_id, SharedFileRow.path == path
                    )
                )
                if file is not None:
                    session.add(
                        SharedFileRow(
                            pipeline_id=pipeline_id, path=path, sha256=file.sha256, mode=file.mode
                        )
                    )

    # --- sources -----------------------------------------------------------------------

    def shared_source(self, pipeline_id: int) -> str | None:
        with self._read() as session:
            row = session.get(SourceArchiveRow, pipeline_id)
            return row.sha256 if row else None

    def set_shared_source(self, pipeline_id: int, sha256: str) -> None:
        with self._write() as session:
            if session.get(SourceArchiveRow, pipeline_id) is None:
                session.add(SourceArchiveRow(pipeline_id=pipeline_id, sha256=sha256))

    # --- logs --------------------------------------------------------------------------

    def append_log(self, execution_id: int, offset: int, data: bytes) -> None:
        with self._write() as session:
            if session.get(LogChunkRow, (execution_id, offset)) is None:
                session.add(LogChunkRow(execution_id=execution_id, offset=offset, data=data))

    def log_since(self, execution_id: int, offset: int) -> bytes:
        """The log's bytes from ``offset`` on, as far as they arrived (whole chunks)."""
        with self._read() as session:
            rows = session.scalars(
                select(LogChunkRow)
                .where(LogChunkRow.execution_id == execution_id, LogChunkRow.offset >= offset)
                .order_by(LogChunkRow.offset)
            )
            out = bytearray()
            expected = offset
            for row in rows:
                if row.offset != expected:
                    break  # a chunk still on its way: stop before the gap
                out += row.data
                expected += len(row.data)
            return bytes(out)
