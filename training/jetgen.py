"""Simulated jets with Pythia 8 and FastJet: the embedded default sample and ``l1ad generate``.

Two presets (``PRESETS``), every setting stored in the file's metadata:

* ``official`` (default): as close to the official hls4ml LHC jet dataset's production as its public code
  allows (``nhanvtran/trackObservables``, branch ``boostedPrecision-hls4ml``: ``processing/anaSubstructure.cpp``,
  ``processing/steerScript.sh``; labels and selection in ``fastmachinelearning/keras-training``,
  ``convert/addTruth.py``). One sample per class, labelled by its process (addTruth.py l. 193-204):
  gg and qq final states for ``g`` and ``q``, WW, ZZ and tt with hadronic decays for ``w``, ``z``, ``t``,
  at a hard-process pT of about 1 TeV (generation/run_card_ptbin.dat: 995-1005 GeV); the detector response
  ``r1_h022_e0175_t220_nonu`` as the steering script runs it (:mod:`.detector`); anti-kT R = 0.4 (anaSubstructure.cpp l. 225) on all
  detector objects, jets above 100 GeV (l. 398), and only the leading jet of each event (addTruth.py
  l. 207-215), with no pT or eta window and no truth matching. Events whose groomed jet keeps two or
  fewer constituents are dropped, as the official NaN veto on N2 and tau32 does (addTruth.py l. 180-189).
* ``official_nominal``: the same with the cell sizes and resolutions the detector label spells
  (``r1.0:h0.022:e0.0175:t220.0``), for a systematic check.
* ``particle08``: l1ad's earlier setup, particle level, anti-kT R = 0.8, QCD 2 -> 2 labelled q/g by the
  matched hard parton, W/Z + jet and tt with truth-matched decays, jets of 900-1100 GeV.

Each process runs in fixed-size chunks whose seeds depend only on (seed, process, chunk index); the
first N jets of each class are taken in chunk order, so the file does not depend on the number of
workers, nor on whether the chunks ran in a local process pool or as Ray tasks on a cluster.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
from tqdm import tqdm

from l1ad.common.errors import L1adError
from l1ad.common.processes import RAY_QUIET, end_with_parent

from .detector import NOMINAL, Detector
from .features import CLASSES, FEATURES, LABEL
from l1ad.common.files import atomic_path, read_json, write_json

_W_HADRONIC = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
_Z_HADRONIC = ["23:onMode = off", "23:onIfAny = 1 2 3 4 5"]


@dataclass(frozen=True)
class Settings:
    """Everything that defines a sample; stored in the file's metadata."""

    preset: str
    processes: dict            # process -> Pythia settings
    class_of_process: dict     # process -> class label ("qcd": labelled by the matched parton)
    pthat_gev: dict            # process -> [min, max] hard-process pT (max < 0: none)
    jet_radius: float
    jet_pt_min_gev: float
    jet_pt_max_gev: float | None  # None: no window (official: the leading jet, whatever its pT)
    jet_abs_eta_max: float | None
    leading_jet_only: bool
    truth_matching: bool
    min_groomed_constituents: int  # 2: drop single-constituent groomed jets (undefined ratios); 3: official veto
    detector: Detector | None
    ecm_gev: float = 13000.0
    events_per_chunk: int = 500
    pythia_tune: str = "Monash 2013 (Pythia default)"


PRESETS = {
    "official": Settings(
        preset="official",
        processes={
            "gg": ["HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"],
            "qq": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:gg2qqbar = on"],
            "ww": ["WeakDoubleBoson:ffbar2WW = on", *_W_HADRONIC],
            "zz": ["WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", *_Z_HADRONIC],
            "tt": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_HADRONIC],
        },
        class_of_process={"gg": "g", "qq": "q", "ww": "w", "zz": "z", "tt": "t"},
        # the official gluon jets are harder than the rest (median pT 1114 vs about 1020 GeV, 32% above
        # 1200 GeV): their sample had no upper pT bound, unlike the 995-1005 GeV window of the run card
        pthat_gev={"gg": [1000.0, -1.0], "qq": [995.0, 1005.0], "ww": [995.0, 1005.0], "zz": [995.0, 1005.0],
                   "tt": [995.0, 1005.0]},
        jet_radius=0.4, jet_pt_min_gev=100.0, jet_pt_max_gev=None, jet_abs_eta_max=None, leading_jet_only=True,
        truth_matching=False, min_groomed_constituents=3, detector=Detector()),
    "particle08": Settings(
        preset="particle08",
        processes={
            "qcd": ["HardQCD:all = on"],
            "w": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_W_HADRONIC],
            "z": ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
                  *_Z_HADRONIC],
            "t": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_HADRONIC],
        },
        class_of_process={"qcd": "qcd", "w": "w", "z": "z", "t": "t"},
        pthat_gev={p: [800.0, -1.0] for p in ("qcd", "w", "z", "t")},
        jet_radius=0.8, jet_pt_min_gev=900.0, jet_pt_max_gev=1100.0, jet_abs_eta_max=2.5, leading_jet_only=False,
        truth_matching=True, min_groomed_constituents=2, detector=None),
}

# a fixed index per process, so that seeds do not depend on which classes a user asks for
PRESETS["official_nominal"] = dataclasses.replace(PRESETS["official"], preset="official_nominal", detector=NOMINAL)

PROCESS_INDEX = {"qcd": 0, "t": 1, "w": 2, "z": 3, "gg": 10, "qq": 11, "ww": 12, "zz": 13, "tt": 14}
RESONANCE = {"w": 24, "z": 23, "t": 6}
LIGHT_QUARKS = {1, 2, 3}
NEUTRINOS = (12, 14, 16)


def processes_for(settings: Settings, label: str) -> str:
    for process, cls in settings.class_of_process.items():
        if cls == label or (cls == "qcd" and label in ("g", "q")):
            return process
    raise L1adError(f"preset {settings.preset} makes no {label!r} jets")


def pythia_seed(seed: int, process: str, chunk: int) -> int:
    """A Pythia seed (1..900,000,000) fixed by the sample seed, the process and the chunk index."""
    key = [seed, PROCESS_INDEX[process], chunk]
    return int(np.random.SeedSequence(key).generate_state(1)[0]) % 900_000_000 + 1


def _pythia(settings: Settings, process: str, seed: int):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    low, high = settings.pthat_gev[process]
    for line in [f"Beams:eCM = {settings.ecm_gev}", f"PhaseSpace:pTHatMin = {low}", f"PhaseSpace:pTHatMax = {high}",
                 "Random:setSeed = on", f"Random:seed = {seed}", "Print:quiet = on",
                 *settings.processes[process]]:
        if not pythia.readString(line):
            raise L1adError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise L1adError(f"Pythia failed to initialise process {process!r}")
    return pythia


def _delta_r(y1, phi1, y2, phi2):
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    return np.hypot(y1 - y2, dphi)


def _y_phi(px, py, pz, e):
    with np.errstate(divide="ignore"):  # the beam entries of the record have infinite rapidity
        return 0.5 * np.log((e + pz) / (e - pz)), np.arctan2(py, px)


class _Record:
    """One event's history as numpy arrays, to follow Pythia's mother/daughter links."""

    def __init__(self, prt):
        self.id = ak.to_numpy(prt.id)
        self.d1 = ak.to_numpy(prt.daughter1)
        self.d2 = ak.to_numpy(prt.daughter2)
        self.y, self.phi = _y_phi(*(ak.to_numpy(getattr(prt.p, c)) for c in ("px", "py", "pz", "e")))

    def last_copy(self, i: int) -> int:
        # Pythia copies a particle (daughter1 == daughter2, same id) each time it recoils
        while self.d1[i] == self.d2[i] and self.d1[i] > 0 and self.id[self.d1[i]] == self.id[i]:
            i = self.d1[i]
        return i

    def decay_quarks(self, i: int) -> list[int]:
        """Quarks from the decay of resonance i, following t -> W b -> q q' b."""
        last = self.last_copy(i)
        out = []
        for d in range(self.d1[last], self.d2[last] + 1):
            out += self.decay_quarks(d) if abs(self.id[d]) == 24 else [d]
        return out


def _truth_labels(record: _Record, process: str, jet_y, jet_phi, radius: float) -> list[str | None]:
    """Label each jet, or None when it must be dropped.

    QCD: flavour of the nearest outgoing hard parton (entries 5 and 6 of a 2 -> 2 record) within R:
    gluon -> g, u/d/s -> q; c, b and unmatched jets are dropped. Signal: the jet must contain the
    resonance and all its decay quarks within R.
    """
    labels: list[str | None] = []
    for y, phi in zip(jet_y, jet_phi):
        label = None
        if process == "qcd":
            dr = [_delta_r(y, phi, record.y[i], record.phi[i]) for i in (5, 6)]
            nearest = (5, 6)[int(np.argmin(dr))]
            flavour = abs(record.id[nearest])
            if min(dr) < radius:
                label = "g" if flavour == 21 else "q" if flavour in LIGHT_QUARKS else None
        else:
            for i in (5, 6):
                if abs(record.id[i]) != RESONANCE[process]:
                    continue
                last = record.last_copy(i)
                parts = [last, *record.decay_quarks(i)]
                if max(_delta_r(y, phi, record.y[p], record.phi[p]) for p in parts) < radius:
                    label = process
        labels.append(label)
    return labels


def _visible(prt):
    aid = abs(prt.id)
    return prt[(prt.status > 0) & (aid != NEUTRINOS[0]) & (aid != NEUTRINOS[1]) & (aid != NEUTRINOS[2])]


def _detector_objects(visible, settings: Settings, seed: int, process: str, chunk: int) -> ak.Array:
    """The detector response on every event of a chunk, as ``events * var * Momentum4D``."""
    from .detector import respond

    counts = ak.to_numpy(ak.num(visible))
    event = np.repeat(np.arange(len(counts)), counts)
    flat = {k: ak.to_numpy(ak.flatten(getattr(visible.p, k))).astype(np.float64) for k in ("px", "py", "pz", "e")}
    # its own stream, independent of Pythia's, fixed by (seed, process, chunk)
    rng = np.random.default_rng([seed, PROCESS_INDEX[process], chunk, 1])
    ev, px, py, pz, e = respond(event, ak.to_numpy(ak.flatten(visible.id)), flat["px"], flat["py"], flat["pz"],
                                flat["e"], settings.detector, rng)
    per_event = np.bincount(ev, minlength=len(counts))
    return ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D"), per_event)


def generate_chunk(settings: Settings, process: str, seed: int, chunk: int) -> tuple[pd.DataFrame, dict]:
    """Generate one chunk of events and return its labelled jets (features in hls4ml order)."""
    import fastjet

    from .substructure import jet_features

    pythia = _pythia(settings, process, pythia_seed(seed, process, chunk))
    events = pythia.nextBatch(settings.events_per_chunk)
    prt = events.prt
    visible = _visible(prt)
    if settings.detector is not None:
        particles = _detector_objects(visible, settings, seed, process, chunk)
    else:
        particles = ak.zip({"px": visible.p.px, "py": visible.p.py, "pz": visible.p.pz, "E": visible.p.e},
                           with_name="Momentum4D")
    clustering = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, settings.jet_radius))
    jets = clustering.inclusive_jets(min_pt=settings.jet_pt_min_gev)  # not sorted by pT
    constituents = clustering.constituents(min_pt=settings.jet_pt_min_gev)
    jet_y, jet_phi = _y_phi(jets.px, jets.py, jets.pz, jets.E)
    selected = ak.ones_like(jets.pt, dtype=bool)
    if settings.jet_pt_max_gev is not None:
        selected = selected & (jets.pt < settings.jet_pt_max_gev)
    if settings.jet_abs_eta_max is not None:
        selected = selected & (abs(jets.eta) < settings.jet_abs_eta_max)
    if settings.leading_jet_only:
        hardest = ak.argmax(jets.pt, axis=1, keepdims=True)
        selected = selected & (ak.local_index(jets.pt) == ak.fill_none(ak.firsts(hardest), -1))

    keep, labels = [], []
    fixed_label = settings.class_of_process[process]
    for ev in range(len(jets)):
        window = ak.to_list(selected[ev])
        if not settings.truth_matching:
            ev_labels = [fixed_label] * len(window)
        elif any(window):
            ev_labels = _truth_labels(_Record(prt[ev]), process, ak.to_numpy(jet_y[ev]), ak.to_numpy(jet_phi[ev]),
                                      settings.jet_radius)
        else:
            ev_labels = [None] * len(window)
        keep.append([w and lab is not None for w, lab in zip(window, ev_labels)])
        labels += [lab for w, lab in zip(window, ev_labels) if w and lab is not None]
    stats = {"events": len(jets), "jets_selected": int(ak.sum(selected)), "labelled": len(labels),
             "dropped_groomed_constituents": 0}
    if not labels:
        return pd.DataFrame(columns=[*FEATURES, LABEL]), stats
    features = jet_features(ak.flatten(constituents[ak.Array(keep)], axis=1), settings.jet_radius,
                            groomed_count=True)
    table = pd.DataFrame({name: features[name] for name in FEATURES})
    table[LABEL] = labels
    # a groomed jet with one constituent has undefined correlator ratios (0/0); the official production
    # also drops jets whose groomed tau3/tau2 is undefined (two constituents)
    good = (features["groomed_constituents"] >= settings.min_groomed_constituents)
    good &= np.isfinite(table[FEATURES].to_numpy()).all(axis=1)
    stats["dropped_groomed_constituents"] = int((~good).sum())
    return table[good].reset_index(drop=True), stats


def _quiet_worker():
    end_with_parent()
    # a crash in Pythia or FastJet C++ code prints where it happened on stderr, not just "pool broken"
    faulthandler.enable()
    # FastJet prints its banner on stdout from C++; the parent owns the terminal
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)


def _prefix_needed(chunks: dict[int, tuple[pd.DataFrame, dict]], wanted: dict[str, int]) -> int | None:
    """Smallest number of leading chunks that holds the wanted jets, or None if not there yet."""
    counts = Counter()
    for k in range(len(chunks) + 1):
        if all(counts[c] >= n for c, n in wanted.items()):
            return k
        if k not in chunks:
            return None
        counts.update(chunks[k][0][LABEL])
    return None


class _Pool:
    """Chunks on a local process pool. spawn, not fork: workers start as fresh interpreters, whatever the caller
    has loaded (TensorFlow, OpenMP or Ray threads in a notebook or a test process do not survive a fork safely)."""

    def __init__(self, workers: int):
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_quiet_worker)

    def submit(self, *args):
        return self.pool.submit(generate_chunk, *args)

    def wait(self, running):
        return wait(running, return_when=FIRST_COMPLETED)[0]

    def result(self, handle):
        return handle.result()

    def close(self):
        self.pool.shutdown(cancel_futures=True)


class _Ray:
    """The same chunks as Ray tasks: on this machine ('local') or on an existing cluster (ray://HOST:PORT)."""

    def __init__(self, address: str, workers: int):
        import ray

        self.ray = ray
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, **RAY_QUIET)
        else:
            ray.init(address=address, **RAY_QUIET)
        self.task = ray.remote(num_cpus=1, max_retries=0)(generate_chunk)

    def submit(self, *args):
        return self.task.remote(*args)

    def wait(self, running):
        return self.ray.wait(list(running), num_returns=1)[0]

    def result(self, handle):
        return self.ray.get(handle)

    def close(self):
        self.ray.shutdown()


VERSIONED = ("pythia8mc", "fastjet", "awkward", "numpy")
CACHE_MARK = "l1ad-chunks.json"


class ChunkCache:
    """Finished chunks on disk, so that a long generation that stops (a closed session, a lost node) resumes
    where it was. A chunk is reused only by the same preset, settings, seed and package versions (the key)."""

    def __init__(self, directory: str | os.PathLike, settings: Settings, preset: str, seed: int):
        doc = {"preset": preset, "seed": seed, "settings": asdict(settings),
               "versions": {pkg: version(pkg) for pkg in VERSIONED}}
        self.dir = Path(directory)
        self.key = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]
        mark = self.dir / CACHE_MARK
        if self.dir.exists() and not mark.exists():
            raise L1adError(f"{self.dir} exists and was not made by l1ad generate; move it or choose another --out")
        write_json(mark, {"made_by": "l1ad generate", **doc})

    def _path(self, process: str, chunk: int, suffix: str) -> Path:
        return self.dir / f"{self.key}-{process}-{chunk:06d}{suffix}"

    def load(self, process: str) -> dict[int, tuple[pd.DataFrame, dict]]:
        found = {}
        for stats in sorted(self.dir.glob(f"{self.key}-{process}-*.json")):
            chunk = int(stats.stem.rsplit("-", 1)[1])
            table = self._path(process, chunk, ".parquet")
            if table.exists():  # the statistics are written last: both there means the chunk is whole
                found[chunk] = (pd.read_parquet(table), read_json(stats))
        return found

    def save(self, process: str, chunk: int, result: tuple[pd.DataFrame, dict]):
        with atomic_path(self._path(process, chunk, ".parquet")) as tmp:
            result[0].to_parquet(tmp, index=False)
        write_json(self._path(process, chunk, ".json"), result[1])

    @staticmethod
    def remove(directory: str | os.PathLike):
        """Remove a chunk folder made by l1ad: its chunk files, its mark, then the folder if nothing else is in it."""
        directory = Path(directory)
        if not (directory / CACHE_MARK).exists():
            return
        for path in directory.glob("*-*-[0-9]*.*"):
            if path.suffix in (".parquet", ".json"):
                path.unlink()
        (directory / CACHE_MARK).unlink()
        if not any(directory.iterdir()):
            directory.rmdir()


def _check_request(jets_per_class: dict[str, int], preset: str) -> tuple[Settings, dict[str, int]]:
    """The preset's settings and the classes asked for (with at least one jet), or a clear refusal."""
    if preset not in PRESETS:
        raise L1adError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    unknown = set(jets_per_class) - set(CLASSES)
    if unknown:
        raise L1adError(f"unknown jet classes {sorted(unknown)}; choose from {CLASSES}")
    wanted = {c: n for c, n in jets_per_class.items() if n > 0}
    if not wanted:
        raise L1adError("ask for at least one jet")
    return PRESETS[preset], wanted


class _Chunks:
    """Which chunks of which Pythia process are finished, running and still needed for the wanted jets."""

    def __init__(self, settings: Settings, wanted: dict[str, int], seed: int, cache: ChunkCache | None):
        self.settings, self.wanted, self.seed, self.cache = settings, wanted, seed, cache
        self.wanted_by: dict[str, dict[str, int]] = {}  # process -> class -> jets
        for c, n in wanted.items():
            self.wanted_by.setdefault(processes_for(settings, c), {})[c] = n
        self.done = {p: cache.load(p) if cache else {} for p in self.wanted_by}
        self.submitted = dict.fromkeys(self.wanted_by, 0)
        self.got = Counter(label for p in self.done for table, _ in self.done[p].values() for label in table[LABEL])
        self.made = 0

    def kept(self) -> int:
        return sum(min(self.got[c], n) for c, n in self.wanted.items())

    def _expected_fraction(self, p: str) -> float:  # share of the wanted jets that finished plus running chunks give
        yields = [len(t) for t, _ in self.done[p].values()]
        # before a chunk of p has finished: half a jet per event (the official preset keeps about one)
        per_chunk = np.mean(yields) if yields else self.settings.events_per_chunk / 2
        return self.submitted[p] * per_chunk / sum(self.wanted_by[p].values())

    def next_chunk(self, busy: bool = False) -> tuple[str, int] | None:
        """The next chunk to run (of the process furthest behind), or None once every process has enough, or,
        when ``busy`` (chunks are running), once the running chunks are expected to bring the rest: a small
        request does not start chunks it will not use."""
        todo = [p for p in self.wanted_by if _prefix_needed(self.done[p], self.wanted_by[p]) is None]
        if not todo:
            return None
        p = min(todo, key=self._expected_fraction)
        if busy and self._expected_fraction(p) >= 1:
            return None
        while self.submitted[p] in self.done[p]:  # finished by a run that stopped
            self.submitted[p] += 1
        self.submitted[p] += 1
        return p, self.submitted[p] - 1

    def finish(self, p: str, k: int, result: tuple[pd.DataFrame, dict]):
        self.done[p][k] = result
        if self.cache:
            self.cache.save(p, k, result)
        self.made += len(result[0])
        self.got.update(result[0][LABEL])

    def table(self) -> tuple[pd.DataFrame, dict, dict]:
        """The wanted jets from the fewest leading chunks (the same whatever order they finished in), the chunks
        used and their statistics."""
        parts, used, stats = [], {}, {}
        for p, want in self.wanted_by.items():
            used[p] = _prefix_needed(self.done[p], want)
            table = pd.concat([self.done[p][k][0] for k in range(used[p])], ignore_index=True)
            stats[p] = dict(sum((Counter(self.done[p][k][1]) for k in range(used[p])), Counter()))
            parts += [table[table[LABEL] == c].head(n) for c, n in want.items()]
        table = pd.concat(parts, ignore_index=True)
        table = table.sort_values(LABEL, kind="stable", key=lambda s: s.map(CLASSES.index)).reset_index(drop=True)
        table[FEATURES] = table[FEATURES].astype(np.float32)
        return table, used, stats


def _run_chunks(chunks: _Chunks, runner, slots: int, bar):
    """Keep ``slots`` chunks running until every process has its jets."""
    running = {}

    def fill():
        while len(running) < slots and (job := chunks.next_chunk(busy=bool(running))):
            running[runner.submit(chunks.settings, job[0], chunks.seed, job[1])] = job

    fill()
    while running:
        for handle in runner.wait(running):
            p, k = running.pop(handle)
            try:
                result = runner.result(handle)
            except BrokenProcessPool as err:
                raise L1adError(f"a generator worker died while making chunk {k} of process {p!r} "
                                f"(seed {chunks.seed}); if it crashed, its stack is printed on stderr above") from err
            chunks.finish(p, k, result)
            bar.update(chunks.kept() - bar.n)
            fill()


def generate(jets_per_class: dict[str, int], seed: int, workers: int | None = None, preset: str = "official",
             address: str | None = None, progress: bool = True,
             chunk_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict]:
    """Generate ``jets_per_class[c]`` jets of each class; return the table and its provenance.

    ``address``: None runs the chunks on a local process pool, "local" as Ray tasks on this machine,
    anything else as Ray tasks on that cluster; the file is the same every way. ``chunk_dir``: keep finished
    chunks there and reuse the ones a stopped run left (:class:`ChunkCache`); the table is the same.
    """
    settings, wanted = _check_request(jets_per_class, preset)
    workers = workers or os.cpu_count() or 1
    cache = ChunkCache(chunk_dir, settings, preset, seed) if chunk_dir is not None else None
    chunks = _Chunks(settings, wanted, seed, cache)
    start = time.perf_counter()
    bar = tqdm(total=sum(wanted.values()), unit="jet", desc="generating jets", disable=not progress,
               initial=chunks.kept())
    if progress and any(chunks.done.values()):
        finished = sum(map(len, chunks.done.values()))
        print(f"resuming from {finished} finished chunk{'s' * (finished != 1)} in {cache.dir}")
    runner = _Pool(workers) if address is None else _Ray(address, workers)
    try:
        _run_chunks(chunks, runner, 2 * workers, bar)
    finally:
        runner.close()
        bar.close()
    seconds = time.perf_counter() - start
    table, used, stats = chunks.table()
    provenance = {
        "generator": "l1ad generate (Pythia 8 + FastJet/fjcontrib)",
        "preset": preset,
        "seed": seed,
        "jets_per_class": wanted,
        "settings": asdict(settings),
        "chunks_used": used,
        "chunk_statistics": stats,
        "versions": {pkg: version(pkg) for pkg in VERSIONED},
        "level": (f"detector response {settings.detector.name} (official production), no pile-up"
                  if settings.detector else "particle level (visible final-state particles), no detector, no pile-up"),
    }
    if progress:
        print(f"generated {chunks.made:,} jets in {seconds:.0f} s on {workers} workers "
              f"({chunks.made / seconds / workers:.1f} jets/s per worker, every jet of the chunks run); "
              f"kept {len(table):,}")
    return table, provenance
