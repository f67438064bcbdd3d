"""The asyncio ``FaceVerifier``: the rules of :mod:`verifykit.face._core`, awaited.

Photos are read in the sandboxed face workers (``settings.workers="process"``, the default), so
the event loop never waits on the GIL; with ``workers="thread"`` they are read in ``threads``
(default: the loop's executor), unsandboxed, one encoding at a time across them.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._flow import AsyncFlowIO, Flow, run_async
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ._core import Enrollment, FaceShell
from ._image import ImageInput
from ._index import FaceIndexBase, FaceMatch
from ._pipeline import Encoding
from ._settings import FaceSettings, MultiFace
from ._work import FaceReading

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["FaceIndex", "FaceVerifier"]

T = TypeVar("T")


class FaceVerifier(FaceShell):
    """:class:`verifykit.face.FaceVerifier` for asyncio: the same arguments and results, on an
    async store (:func:`verifykit.aio.open_store`)."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        settings: FaceSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
        threads: Executor | None = None,
    ) -> None:
        super().__init__(store=store, keyring=keyring, settings=settings, audit=audit, ways_in=ways_in)
        self._aio = AsyncFlowIO(store=store, audit=audit, threads=threads, processes=self._pool)

    async def __aenter__(self) -> FaceVerifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def encode(
        self, image: ImageInput, *, policy: MultiFace | None = None
    ) -> tuple[FaceReading, Encoding | None]:
        """See :meth:`verifykit.face.FaceVerifier.encode`."""
        return await run_async(self._flows.encode(image, policy=policy), self._aio)

    async def enroll(self, subject: str, image: ImageInput) -> Enrollment:
        """See :meth:`verifykit.face.FaceVerifier.enroll`."""
        return await run_async(self._flows.enroll(subject, image), self._aio)

    async def verify(
        self, subject: str, template: bytes, image: ImageInput, *, client: str | None = None
    ) -> Verdict:
        """See :meth:`verifykit.face.FaceVerifier.verify`."""
        return await run_async(self._flows.verify(subject, template, image, client=client), self._aio)

    async def compare(self, image_a: ImageInput, image_b: ImageInput) -> Verdict:
        """See :meth:`verifykit.face.FaceVerifier.compare`."""
        return await run_async(self._flows.compare(image_a, image_b), self._aio)


class FaceIndex(FaceIndexBase):
    """:class:`verifykit.face.FaceIndex` for asyncio: the same arguments and results, its policed
    calls (``add``, ``add_many``, ``remove``, ``search``, ``search_template``) as coroutines on an
    async store; a photo query is read in the face workers. The matrix product of a search, and
    every change, run in the loop's default executor: they hold or wait for the index's lock, which
    a search keeps through its product. The in-memory index, ``keys``, ``add_matrix``, ``save``
    and ``load`` are the sync index's own (blocking: for start, stop and tooling)."""

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, AsyncFlowIO(store=self._store, audit=self._audit, processes=self._pool))

    async def add(
        self, key: str, template_or_encoding: bytes | npt.NDArray[np.floating], *, client: str | None = None
    ) -> None:
        """See :meth:`verifykit.face.FaceIndex.add`."""
        await self._run(self._add_many([(key, template_or_encoding)], client))

    async def add_many(
        self, items: Iterable[tuple[str, bytes | npt.NDArray[np.floating]]], *, client: str | None = None
    ) -> None:
        """See :meth:`verifykit.face.FaceIndex.add_many`."""
        await self._run(self._add_many(items, client))

    async def remove(self, key: str, *, client: str | None = None) -> bool:
        """See :meth:`verifykit.face.FaceIndex.remove`."""
        return await self._run(self._remove_flow(key, client))

    async def search(
        self, query: ImageInput, k: int = 5, threshold: float | None = None, *, client: str | None = None
    ) -> list[FaceMatch]:
        """See :meth:`verifykit.face.FaceIndex.search`."""
        return await self._run(self._search_flow(query, k, threshold, client))

    async def search_template(
        self,
        subject: str,
        template: bytes,
        k: int = 5,
        threshold: float | None = None,
        *,
        client: str | None = None,
    ) -> list[FaceMatch]:
        """See :meth:`verifykit.face.FaceIndex.search_template`."""
        return await self._run(self._search_template_flow(subject, template, k, threshold, client))
