"""With ``workers="process"`` the face work runs in worker processes that load the models once.

dlib's encoder holds the GIL, so face work scales only across processes; an asyncio service also
needs it off its event loop. Both flavours use the verifier's pool the same way.
"""

from __future__ import annotations

import os

import pytest
from face_photos import photo

from verifier_flavours import Flavour
from verifykit import ConfigurationError, Keyring, Reason, aio
from verifykit.face import FaceSettings, FaceVerifier, Workers, _models
from verifykit.face._work import worker_report
from verifykit.store import MemoryStore

OBAMA_OTHER = "Barack_Obama__obama2.jpg"
BIDEN = "Joe_Biden__biden.jpg"


def test_face_work_runs_in_a_worker_process_that_loads_each_model_once(
    flavour: Flavour, keyring: Keyring, obama_template: bytes
) -> None:
    fv = flavour.build(
        FaceVerifier,
        aio.FaceVerifier,
        store=flavour.store("memory://"),
        keyring=keyring,
        settings=FaceSettings(workers=Workers.PROCESS, processes=1),
        audit=None,
    )
    here = _models.loads()
    try:
        assert fv.verify("obama", obama_template, photo(OBAMA_OTHER)).approved
        assert fv.verify("obama", obama_template, photo(BIDEN)).reason is Reason.MISMATCH
        assert fv.enroll("biden", photo(BIDEN)).ok
        assert fv.compare(photo(OBAMA_OTHER), photo(BIDEN)).reason is Reason.MISMATCH
        pid, loads = fv._pool.submit(worker_report).result()  # type: ignore[union-attr]
    finally:
        fv.close()
    assert pid != os.getpid()
    assert loads == {"landmarks": 1, "detector": 1, "encoder": 1}
    assert _models.loads() == here  # nothing was loaded, or encoded, in this process


def test_threads_are_the_default_and_start_no_process() -> None:
    assert FaceSettings().workers is Workers.THREAD
    assert FaceVerifier(store=MemoryStore(), keyring=Keyring.generate())._pool is None


@pytest.mark.parametrize("bad", [{"workers": "fibres"}, {"processes": 0}, {"processes": True}])
def test_worker_settings_are_checked(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FaceSettings(**bad)  # type: ignore[arg-type]
