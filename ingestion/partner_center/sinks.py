"""Where the scanner's good lines go: a sink over an engine of the one
revenue upsert (``partners.revenue``, docs/decisions/0008). On PostgreSQL the
staging table's ``COPY`` is fed while the file is read; elsewhere the lines
are kept and handed to the portable engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.contrib.auth.models import User
from django.db import connection

from ingestion.report import ImportReport
from partners.models import RevenueSource
from partners.revenue import RevenueRows, RevenueStaging, RevenueUpsert, staged_text

from .scanner import Chunk, Line, Sink


class _EngineSink:
    """Plans or writes the staged lines with an engine of the one revenue
    upsert (``partners.revenue``); repeated lines are numbered there."""

    def _engine(self) -> RevenueRows | RevenueStaging:
        raise NotImplementedError

    def plan(self, report: ImportReport) -> None:
        _fill(report, self._engine().plan(source=RevenueSource.IMPORT))

    def write(self, report: ImportReport, *, user: User | None, reason: str) -> None:
        result = self._engine().write(
            source=RevenueSource.IMPORT,
            user=user,
            reason=reason,
            # An import running at the same time stored some lines first:
            # theirs stand (the same lines), ours are unchanged.
            keep_concurrent=True,
            # A lost import (a crash in the second after the commit) is
            # imported again: it is idempotent. No need to wait for the disk.
            synchronous_commit=False,
        )
        _fill(report, result)


def _fill(report: ImportReport, result: RevenueUpsert) -> None:
    report.created, report.updated, report.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )


class ListSink(_EngineSink):
    """The portable path: keeps the lines and hands them to the portable
    engine (``partners.revenue.RevenueRows``: chunked lookups, bulk_create,
    history)."""

    preload_locations = False

    def __init__(self) -> None:
        self.lines: list[Line] = []

    def load(
        self,
        chunks: Iterator[Chunk],
        progress: Callable[[int], None] | None,
        every: int | None = None,
    ) -> None:
        for lines, done in chunks:
            if lines:
                self.add(lines)
            if progress is not None:
                progress(done)

    def add(self, lines: list[Line]) -> None:
        self.lines.extend(lines)

    def _engine(self) -> RevenueRows:
        engine = RevenueRows(number_repeats=True)
        engine.add_staged(self.lines)
        return engine

    def close(self) -> None:
        self.lines = []


class _CopySource:
    """A file for ``copy_expert`` whose ``read()`` pulls the next chunk from
    the scanner: the database ingests one chunk while Python reads the next.

    ``read()`` answers end-of-file to pause the ``COPY`` (every ``every``
    bytes of the file, so that progress can be saved between two COPYs) and
    when the chunks are exhausted or the scanner raised (kept in ``error``:
    the ``COPY`` ends normally and the caller re-raises).
    """

    def __init__(self, chunks: Iterator[Chunk], every: int | None) -> None:
        self._chunks = chunks
        self._every = every
        self._pause = False
        self._reported = 0
        self.done = 0
        self.exhausted = False
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> str:
        while not self._pause:
            try:
                lines, self.done = next(self._chunks)
            except StopIteration:
                self.exhausted = True
                return ""
            except Exception as exc:  # re-raised by PostgresSink.load
                self.error, self.exhausted = exc, True
                return ""
            if self._every and self.done - self._reported >= self._every:
                self._reported, self._pause = self.done, True
            if lines:
                return staged_text(lines)
        self._pause = False
        return ""


class PostgresSink(_EngineSink):
    """``COPY`` into the staging table of the one revenue upsert while the
    file is read, then its set-based merge (``partners.revenue.RevenueStaging``;
    docs/decisions/0004-revenue-import-on-postgresql.md).

    The staging table lives for the session (not the transaction), so that
    the reading phase can run outside the import transaction and report its
    progress; :meth:`close` drops it.
    """

    preload_locations = True

    def __init__(self) -> None:
        self.staging = RevenueStaging(number_repeats=True)

    def load(
        self,
        chunks: Iterator[Chunk],
        progress: Callable[[int], None] | None,
        every: int | None = None,
    ) -> None:
        """One ``COPY`` fed by the scanner (paused every ``every`` bytes to
        call ``progress``: no query can run while a ``COPY`` is open)."""
        source = _CopySource(chunks, every if progress is not None else None)
        while True:
            self.staging.load(source)
            if source.error is not None:
                raise source.error
            if progress is not None:
                progress(source.done)
            if source.exhausted:
                break

    def add(self, lines: list[Line]) -> None:
        self.staging.add_staged(lines)

    def _engine(self) -> RevenueStaging:
        return self.staging

    def close(self) -> None:
        self.staging.close()


def make_sink() -> Sink:
    return PostgresSink() if connection.vendor == "postgresql" else ListSink()
