"""``verifykit bench face``: the face pipeline beside plain face_recognition, on the same real photos,
in the same run.

- Per stage (decode, detect, encode, match) median milliseconds at VGA, 1080p and 12 MP, made by
  upscaling the real photos; the baseline is face_recognition's naive pipeline on the same bytes
  (``load_image_file``, HOG at full size, ``face_encodings``).
- Whether both pipelines make the same decision on each pair at 12 MP.
- Verify throughput with 1 and 2 face worker processes, and with 1 and 2 threads of the
  unsandboxed thread mode; what the trip to a worker costs beside a VGA read, at p50.
- Accuracy on pairs.csv at the default threshold: FAR, FRR, error rate and 1 - ROC-AUC (costs:
  lower is better), plus FAR/FRR at each threshold preset.
- FaceIndex search at 10k, 100k and 1M templates against a bare numpy float32 matrix-vector product
  over the same matrix.

The photos are read from ``--data`` (default: ``../shared/data/faces`` beside the repository).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._errors import ConfigurationError
from ..crypto import Keyring
from ._report import BenchReport, Progress

__all__ = ["REFERENCE_PACKAGES", "add_arguments", "run"]

# The baseline pipeline. face_recognition declares a dependency on the dlib sources (a long compile),
# while the face extra already brings dlib-bin: so these go in without their dependencies.
REFERENCE_PACKAGES = ("face_recognition==1.3.0", "Pillow>=10", "click>=8", "setuptools<81")
REFERENCE_HINT = (
    "the face bench compares with plain face_recognition: pip install 'verifykit[face]' && "
    "pip install --no-deps " + " ".join(f"'{package}'" for package in REFERENCE_PACKAGES)
)

RESOLUTIONS = {"vga": 640 * 480, "1080p": 1920 * 1080, "12mp": 12_000_000}
STAGES = ("decode", "detect", "encode", "match")
DATA_ENV = "VERIFYKIT_FACE_DATA"
THRESHOLD = 0.6
PARTS = ("stages", "throughput", "accuracy", "index")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fewer photos, pairs and queries (a minute or two)"
    )
    parser.add_argument(
        "--full", action="store_true", help="every pair at 12 MP (the naive pipeline needs ~8 s per photo)"
    )
    parser.add_argument("--data", type=Path, default=None, help=f"the faces folder (or ${DATA_ENV})")
    parser.add_argument(
        "--index-sizes", default="10000,100000,1000000", help="FaceIndex sizes to search (comma-separated)"
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"which parts to run (comma-separated; default all: {','.join(PARTS)})",
    )


@dataclass(slots=True)
class _Timings:
    stages: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, **ms: float) -> None:
        for stage, value in ms.items():
            self.stages[stage].append(value)

    def median(self, stage: str) -> float:
        return float(statistics.median(self.stages[stage]))

    def total(self) -> float:
        return float(statistics.median([sum(v) for v in zip(*self.stages.values(), strict=True)]))


def _data_dir(args: argparse.Namespace) -> Path:
    candidates: list[Path] = [Path(args.data)] if args.data is not None else []
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]))
    candidates.append(Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "faces")
    candidates.append(Path.cwd() / ".." / "shared" / "data" / "faces")
    for folder in candidates:
        if (folder / "pairs.csv").is_file():
            return folder
    raise ConfigurationError(f"no faces data (pairs.csv) found; pass --data DIR or set {DATA_ENV}")


def _reference() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its model package warns about pkg_resources
            import face_recognition
    except ImportError as exc:
        raise ConfigurationError(REFERENCE_HINT) from exc
    return face_recognition


def _pairs(folder: Path) -> list[tuple[str, str, bool]]:
    with (folder / "pairs.csv").open(newline="") as f:
        return [(r["file_a"], r["file_b"], r["same"] == "1") for r in csv.DictReader(f)]


def _spread(items: list[Any], n: int) -> list[Any]:
    """``n`` items spread evenly over the list (deterministic)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _resized_jpeg(path: Path, pixels: int) -> bytes:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigurationError(f"cannot read bench photo {path.name}")
    factor = (pixels / (image.shape[0] * image.shape[1])) ** 0.5
    resized = cv2.resize(
        image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    )
    ok, buf = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError("could not encode a bench image")
    return bytes(buf.tobytes())


def _ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1000.0


class _Ours:
    """verifykit's pipeline, timed stage by stage (the largest face, as the pairs assume)."""

    def __init__(self, keyring: Keyring) -> None:
        from ..face import FaceSettings, MultiFace

        self.settings = FaceSettings(multiple_faces=MultiFace.LARGEST)
        self.keyring = keyring
        self.timings = _Timings()

    def encode(self, data: bytes, reference: npt.NDArray[np.float32] | None = None) -> Any:
        from ..face import MultiFace
        from ..face.low_level import decode, detect, distance, encode, find

        t0 = time.perf_counter()
        image = decode(data, self.settings)
        t1 = time.perf_counter()
        found = find(image, self.settings, MultiFace.LARGEST, rects=detect(image.rgb, self.settings))
        t2 = time.perf_counter()
        encoding = encode(found, self.settings) if found.usable else None
        t3 = time.perf_counter()
        if encoding is not None and reference is not None:
            distance(encoding, reference)
        t4 = time.perf_counter()
        self.timings.add(decode=_ms(t0, t1), detect=_ms(t1, t2), encode=_ms(t2, t3), match=_ms(t3, t4))
        return encoding


class _Naive:
    """face_recognition as its README uses it: load_image_file, face_locations, face_encodings."""

    def __init__(self) -> None:
        self.fr = _reference()
        self.timings = _Timings()

    def encode(self, data: bytes, reference: npt.NDArray[np.float64] | None = None) -> Any:
        fr = self.fr
        t0 = time.perf_counter()
        image = fr.load_image_file(io.BytesIO(data))
        t1 = time.perf_counter()
        boxes = fr.face_locations(image)
        t2 = time.perf_counter()
        encoding = None
        if boxes:
            largest = max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0]))
            encoding = fr.face_encodings(image, [largest])[0]
        t3 = time.perf_counter()
        if encoding is not None and reference is not None:
            fr.face_distance([reference], encoding)
        t4 = time.perf_counter()
        self.timings.add(decode=_ms(t0, t1), detect=_ms(t1, t2), encode=_ms(t2, t3), match=_ms(t3, t4))
        return encoding


def _distances(
    encodings: dict[str, Any], pairs: list[tuple[str, str, bool]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Distance per pair (infinity when a photo had no usable face) and whether it is genuine."""
    dist = []
    for a, b, _ in pairs:
        ea, eb = encodings.get(a), encodings.get(b)
        dist.append(np.inf if ea is None or eb is None else float(np.linalg.norm(ea - eb)))
    return np.array(dist), np.array([same for _, _, same in pairs])


def _rates(
    dist: npt.NDArray[np.float64], same: npt.NDArray[np.bool_], threshold: float
) -> tuple[float, float]:
    matched = dist <= threshold
    far = float(np.mean(matched[~same])) if (~same).any() else 0.0
    frr = float(np.mean(~matched[same])) if same.any() else 0.0
    return far, frr


def _roc_auc(dist: npt.NDArray[np.float64], same: npt.NDArray[np.bool_]) -> float:
    """P(a genuine pair is closer than an impostor pair), ties counting half (Mann-Whitney)."""
    genuine, impostor = dist[same], dist[~same]
    if not len(genuine) or not len(impostor):
        return float("nan")
    closer = (genuine[:, None] < impostor[None, :]).sum() + 0.5 * (
        genuine[:, None] == impostor[None, :]
    ).sum()
    return float(closer / (len(genuine) * len(impostor)))


def _accuracy(
    report: BenchReport,
    progress: Progress,
    folder: Path,
    pairs: list[tuple[str, str, bool]],
    keyring: Keyring,
) -> None:
    from ..face import THRESHOLD_PRESETS

    names = sorted({n for a, b, _ in pairs for n in (a, b)})
    ours, naive = _Ours(keyring), _Naive()
    ours_enc: dict[str, Any] = {}
    naive_enc: dict[str, Any] = {}
    for name in progress.iterate("accuracy: both pipelines, native size", names, len(names)):
        data = (folder / name).read_bytes()
        ours_enc[name] = ours.encode(data)
        naive_enc[name] = naive.encode(data)
    summary: dict[str, Any] = {"pairs": len(pairs), "threshold": THRESHOLD}
    results = {}
    for label, encodings in (("verifykit", ours_enc), ("face_recognition", naive_enc)):
        dist, same = _distances(encodings, pairs)
        far, frr = _rates(dist, same, THRESHOLD)
        auc = _roc_auc(dist, same)
        accuracy = float(np.mean((dist <= THRESHOLD) == same))
        results[label] = (far, frr, 1 - accuracy, 1 - auc)
        summary[label] = {
            "accuracy": round(accuracy, 4),
            "far": round(far, 4),
            "frr": round(frr, 4),
            "roc_auc": round(auc, 4),
            "presets": {
                name: dict(zip(("far", "frr"), (round(x, 4) for x in _rates(dist, same, t)), strict=True))
                for name, t in THRESHOLD_PRESETS.items()
            },
        }
    for i, metric in enumerate(("FAR", "FRR", "error rate", "1 - ROC-AUC")):
        report.add(
            f"accuracy: {metric} @ {THRESHOLD}",
            "fraction",
            results["verifykit"][i],
            results["face_recognition"][i],
        )
    report.extra["accuracy"] = summary


def _stage_timings(
    report: BenchReport,
    progress: Progress,
    *,
    folder: Path,
    photos: list[str],
    pairs_12mp: list[tuple[str, str, bool]],
    keyring: Keyring,
) -> None:
    from ..face.low_level import open_template, seal_template

    template = seal_template(keyring, "bench", np.full(128, 0.05))
    reference32 = open_template(keyring, "bench", template)
    reference64 = reference32.astype(np.float64)
    for label, pixels in RESOLUTIONS.items():
        ours, naive = _Ours(keyring), _Naive()
        names = sorted({n for a, b, _ in pairs_12mp for n in (a, b)}) if label == "12mp" else photos
        ours_enc: dict[str, Any] = {}
        naive_enc: dict[str, Any] = {}
        for name in progress.iterate(f"stages at {label}: both pipelines", names, len(names)):
            data = _resized_jpeg(folder / name, pixels)
            ours_enc[name] = ours.encode(data, reference32)
            naive_enc[name] = naive.encode(data, reference64)
        for stage in STAGES:
            report.add(f"{label} {stage}", "ms", ours.timings.median(stage), naive.timings.median(stage))
        report.add(f"{label} total (per photo)", "ms", ours.timings.total(), naive.timings.total())
        if label == "12mp":
            ours_d, same = _distances(ours_enc, pairs_12mp)
            naive_d, _ = _distances(naive_enc, pairs_12mp)
            agree = int(np.sum((ours_d <= THRESHOLD) == (naive_d <= THRESHOLD)))
            report.extra["decisions_12mp"] = {
                "pairs": len(pairs_12mp),
                "photos": len(names),
                "same_decision": agree,
                "verifykit_correct": int(np.sum((ours_d <= THRESHOLD) == same)),
                "face_recognition_correct": int(np.sum((naive_d <= THRESHOLD) == same)),
                "speedup": round(naive.timings.total() / ours.timings.total(), 1),
            }


def _verify_rate(fv: Any, work: list[Any], callers: int, progress: Progress) -> float:
    """Wall milliseconds per verify with ``callers`` threads calling at once."""
    with ThreadPoolExecutor(max_workers=callers) as pool:
        list(pool.map(lambda job: fv.verify(*job), work[:callers]))  # warm every worker and thread
        t0 = time.perf_counter()
        for _ in pool.map(lambda job: fv.verify(*job), work):
            progress.step()
        return _ms(t0, time.perf_counter()) / len(work)


def _throughput(report: BenchReport, progress: Progress, folder: Path, photos: list[str], count: int) -> None:
    """Verifies per second with 1 and 2 face worker processes (two callers per worker, so none
    waits for work), and with 1 and 2 threads of the unsandboxed thread mode."""
    from ..face import FaceSettings, FaceVerifier, MultiFace, Workers
    from ..store import MemoryStore

    keyring = Keyring.generate()

    def verifier(**settings: Any) -> Any:
        # The bench is a trusted caller: verdicts carry scores, as they cost the same work.
        return FaceVerifier(
            keyring=keyring,
            store=MemoryStore(),
            audit=None,
            settings=FaceSettings(
                multiple_faces=MultiFace.LARGEST,
                enroll_multiple_faces=MultiFace.LARGEST,
                expose_scores=True,
                **settings,
            ),
        )

    enroller = verifier(workers=Workers.THREAD)
    jobs = []
    for i, name in enumerate(photos):
        data = _resized_jpeg(folder / name, RESOLUTIONS["1080p"])
        enrollment = enroller.enroll(f"bench-{i}", data)
        if enrollment.stored is not None:
            jobs.append((f"bench-{i}", enrollment.stored, data))
    work = [jobs[i % len(jobs)] for i in range(count)]
    progress.stage("verify throughput (1080p): 1 and 2 workers, 1 and 2 threads", 4 * count)
    per_worker = {n: _verify_rate(verifier(processes=n), work, 2 * n, progress) for n in (1, 2)}
    per_thread = {n: _verify_rate(verifier(workers=Workers.THREAD), work, n, progress) for n in (1, 2)}
    report.add("verify 1080p, 2 worker processes vs 1 (wall per verify)", "ms", per_worker[2], per_worker[1])
    report.add("verify 1080p, 2 threads vs 1 (wall per verify)", "ms", per_thread[2], per_thread[1])
    report.extra["verifies_per_second"] = {
        **{f"{n} workers": round(1000 / ms, 2) for n, ms in per_worker.items()},
        **{f"{n} threads": round(1000 / ms, 2) for n, ms in per_thread.items()},
    }
    report.extra["workers_2_vs_1_speedup"] = round(per_worker[1] / per_worker[2], 2)


def _process_hop(
    report: BenchReport, progress: Progress, folder: Path, photos: list[str], count: int
) -> None:
    """What sending a photo to a face worker and its reading back costs, beside the reading: the
    round trip minus the time the worker spent inside the job, on VGA photos, at p50."""
    from ..face import FaceSettings, MultiFace
    from ..face.low_level import read_face, shared_workers

    settings = FaceSettings(processes=1, multiple_faces=MultiFace.LARGEST)
    pool = shared_workers(settings)
    assert pool is not None
    images = [_resized_jpeg(folder / name, RESOLUTIONS["vga"]) for name in photos]
    pool.submit(read_face, images[0], settings, settings.multiple_faces).result()  # start it
    trips: list[float] = []
    hops: list[float] = []
    progress.stage("face worker round trip (VGA)", count)
    for i in range(count):
        t0 = time.perf_counter()
        future = pool.submit(read_face, images[i % len(images)], settings, settings.multiple_faces)
        future.result()
        trip = _ms(t0, time.perf_counter())
        trips.append(trip)
        hops.append(trip - 1000.0 * getattr(future, "worker_seconds", 0.0))
        progress.step()
    hop, trip = statistics.median(hops), statistics.median(trips)
    report.add("face worker hop, VGA (p50, share of the verify)", "ms", hop, trip)
    report.extra["worker_hop_share_of_vga_read"] = round(hop / trip, 4)


def _index(report: BenchReport, progress: Progress, sizes: list[int], queries: int) -> None:
    from ..face import FaceIndex
    from ..store import MemoryStore

    rng = np.random.default_rng(7)
    keyring = Keyring.generate()
    for n in sizes:
        progress.stage(f"FaceIndex search, {n:,} templates", 2 * queries)
        matrix = rng.standard_normal((n, 128), dtype=np.float32)
        matrix *= np.float32(0.09)
        index = FaceIndex(keyring, store=MemoryStore(), audit=None)  # the search itself, not a log sink
        index.add_matrix([f"s{i}" for i in range(n)], matrix)
        picks = rng.choice(n, size=queries, replace=False)
        probes = [matrix[i] + rng.normal(0, 0.02, 128).astype(np.float32) for i in picks]
        ours: list[float] = []
        bare: list[float] = []
        for q in probes:
            index.search(q, k=5, threshold=THRESHOLD)  # warm caches alike for both
            t0 = time.perf_counter()
            index.search(q, k=5, threshold=THRESHOLD)
            t1 = time.perf_counter()
            matrix @ q
            t2 = time.perf_counter()
            ours.append(_ms(t0, t1))
            bare.append(_ms(t1, t2))
            progress.step(2)
        report.add(f"index search {n:,} (k=5)", "ms", statistics.median(ours), statistics.median(bare))
        del index, matrix


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("face")
    folder = _data_dir(args)
    _reference()  # fail early, before any timing, if the baseline is missing
    quick, full = bool(args.quick), bool(args.full)
    pairs = _pairs(folder)
    genuine = [p for p in pairs if p[2]]
    impostor = [p for p in pairs if not p[2]]
    keyring = Keyring.generate()
    photos = _spread(sorted({n for a, b, _ in pairs for n in (a, b)}), 3 if quick else 8)
    per_kind = 2 if quick else 6
    pairs_12mp = pairs if full else _spread(genuine, per_kind) + _spread(impostor, per_kind)
    accuracy_pairs = _spread(genuine, 30) + _spread(impostor, 30) if quick else pairs

    parts = {p.strip() for p in str(args.parts).split(",") if p.strip()}
    if not parts <= set(PARTS):
        raise ConfigurationError(
            f"unknown --parts {sorted(parts - set(PARTS))}; choose from {', '.join(PARTS)}"
        )
    report.extra["machine"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}
    if "stages" in parts:
        _stage_timings(report, progress, folder=folder, photos=photos, pairs_12mp=pairs_12mp, keyring=keyring)
    if "throughput" in parts:
        _throughput(report, progress, folder, photos, 8 if quick else 24)
        _process_hop(report, progress, folder, photos, 20 if quick else 60)
    if "accuracy" in parts:
        _accuracy(report, progress, folder, accuracy_pairs, keyring)
    if "index" in parts:
        sizes = [int(s) for s in str(args.index_sizes).split(",") if s.strip()]
        _index(report, progress, sizes, 10 if quick else 40)
    return report
