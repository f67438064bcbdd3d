"""Coverage-guided fuzzing (atheris) of every parser that takes outside input.

One harness per target (``fuzz_<target>.py``), each a ``TestOneInput(data: bytes)`` that lets
through only a normal result or a :class:`~verifykit.VerifyKitError`; the runner
(``python -m fuzz.run TARGET --seconds N``) adds the hang and memory limits. Seeds live in
``fuzz/corpus/<target>/``. See docs/reliability.md, "Fuzzing".
"""
