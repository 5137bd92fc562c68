"""Simulated jets with Pythia 8 and FastJet: the embedded default sample and ``l1ad generate``.

13 TeV pp collisions at particle level (no detector simulation, no pile-up). Each process runs in
fixed-size chunks whose Pythia seed depends only on (seed, process, chunk index); the first N jets of
each class are taken in chunk order, so the file does not depend on the number of workers.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from importlib.metadata import version

import awkward as ak
import numpy as np
import pandas as pd
from tqdm import tqdm

from .features import CLASSES, FEATURES, LABEL


@dataclass(frozen=True)
class Settings:
    """Everything that defines the sample; stored in the file's metadata."""

    ecm_gev: float = 13000.0
    pthat_min_gev: float = 800.0
    jet_radius: float = 0.8
    jet_pt_min_gev: float = 900.0
    jet_pt_max_gev: float = 1100.0
    jet_abs_eta_max: float = 2.5
    events_per_chunk: int = 500
    pythia_tune: str = "Monash 2013 (Pythia default)"
    processes: dict = field(
        default_factory=lambda: {
            "qcd": ["HardQCD:all = on"],
            "w": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
                  "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
            "z": ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                  "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 1 2 3 4 5"],
            "t": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
        }
    )


# which process yields which class, and the resonance whose decay a signal jet must contain
PROCESS_OF_CLASS = {"g": "qcd", "q": "qcd", "w": "w", "z": "z", "t": "t"}
PROCESS_INDEX = {"qcd": 0, "t": 1, "w": 2, "z": 3}
RESONANCE = {"w": 24, "z": 23, "t": 6}
LIGHT_QUARKS = {1, 2, 3}
NEUTRINOS = (12, 14, 16)


def pythia_seed(seed: int, process: str, chunk: int) -> int:
    """A Pythia seed (1..900,000,000) fixed by the sample seed, the process and the chunk index."""
    key = [seed, PROCESS_INDEX[process], chunk]
    return int(np.random.SeedSequence(key).generate_state(1)[0]) % 900_000_000 + 1


def _pythia(settings: Settings, process: str, seed: int):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in [f"Beams:eCM = {settings.ecm_gev}", f"PhaseSpace:pTHatMin = {settings.pthat_min_gev}",
                 "Random:setSeed = on", f"Random:seed = {seed}", "Print:quiet = on",
                 *settings.processes[process]]:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise process {process!r}")
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


def generate_chunk(settings: Settings, process: str, seed: int, chunk: int) -> tuple[pd.DataFrame, dict]:
    """Generate one chunk of events and return its labelled jets (features in hls4ml order)."""
    import fastjet

    from .substructure import jet_features

    pythia = _pythia(settings, process, pythia_seed(seed, process, chunk))
    events = pythia.nextBatch(settings.events_per_chunk)
    prt = events.prt
    aid = abs(prt.id)
    visible = prt[(prt.status > 0) & (aid != NEUTRINOS[0]) & (aid != NEUTRINOS[1]) & (aid != NEUTRINOS[2])]
    particles = ak.zip({"px": visible.p.px, "py": visible.p.py, "pz": visible.p.pz, "E": visible.p.e},
                       with_name="Momentum4D")
    clustering = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, settings.jet_radius))
    jets = clustering.inclusive_jets(min_pt=settings.jet_pt_min_gev)
    constituents = clustering.constituents(min_pt=settings.jet_pt_min_gev)
    jet_y, jet_phi = _y_phi(jets.px, jets.py, jets.pz, jets.E)
    in_window = (jets.pt < settings.jet_pt_max_gev) & (abs(jets.eta) < settings.jet_abs_eta_max)

    keep, labels = [], []
    for ev in range(len(jets)):
        window = ak.to_list(in_window[ev])
        ev_labels = [None] * len(window)
        if any(window):
            ev_labels = _truth_labels(_Record(prt[ev]), process, ak.to_numpy(jet_y[ev]), ak.to_numpy(jet_phi[ev]),
                                      settings.jet_radius)
        keep.append([w and lab is not None for w, lab in zip(window, ev_labels)])
        labels += [lab for w, lab in zip(window, ev_labels) if w and lab is not None]
    stats = {"events": len(jets), "jets_in_window": int(ak.sum(in_window)), "labelled": len(labels),
             "dropped_non_finite": 0}
    if not labels:
        return pd.DataFrame(columns=[*FEATURES, LABEL]), stats
    table = pd.DataFrame(jet_features(ak.flatten(constituents[ak.Array(keep)], axis=1), settings.jet_radius))
    table[LABEL] = labels
    # a groomed jet left with one constituent has undefined correlator ratios; such jets are dropped
    finite = np.isfinite(table[FEATURES].to_numpy()).all(axis=1)
    stats["dropped_non_finite"] = int((~finite).sum())
    return table[finite].reset_index(drop=True), stats


def _quiet_worker():
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


def generate(jets_per_class: dict[str, int], seed: int, workers: int | None = None,
             settings: Settings = Settings(), progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Generate ``jets_per_class[c]`` jets of each class; return the table and its provenance."""
    unknown = set(jets_per_class) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown jet classes {sorted(unknown)}; choose from {CLASSES}")
    wanted = {c: n for c, n in jets_per_class.items() if n > 0}
    if not wanted:
        raise ValueError("ask for at least one jet")
    workers = workers or os.cpu_count() or 1
    wanted_by = {p: {c: n for c, n in wanted.items() if PROCESS_OF_CLASS[c] == p} for p in PROCESS_INDEX}
    wanted_by = {p: w for p, w in wanted_by.items() if w}
    chunks: dict[str, dict[int, tuple[pd.DataFrame, dict]]] = {p: {} for p in wanted_by}
    submitted = dict.fromkeys(wanted_by, 0)

    def expected_fraction(p):  # share of the wanted jets that finished plus running chunks should give
        yields = [len(t) for t, _ in chunks[p].values()]
        per_chunk = np.mean(yields) if yields else 1.0
        return submitted[p] * per_chunk / sum(wanted_by[p].values())

    got = Counter()
    bar = tqdm(total=sum(wanted.values()), unit="jet", desc="generating jets", disable=not progress)
    # spawn, not fork: workers start as fresh interpreters, whatever the caller has loaded (TensorFlow,
    # OpenMP or Ray threads in a notebook or a test process do not survive a fork safely)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet_worker) as pool:
        running = {}

        def submit():
            todo = [p for p in wanted_by if _prefix_needed(chunks[p], wanted_by[p]) is None]
            if todo:
                p = min(todo, key=expected_fraction)
                running[pool.submit(generate_chunk, settings, p, seed, submitted[p])] = (p, submitted[p])
                submitted[p] += 1

        for _ in range(2 * workers):
            submit()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                p, k = running.pop(future)
                try:
                    chunks[p][k] = future.result()
                except BrokenProcessPool as err:
                    raise RuntimeError(f"a generator worker died while making chunk {k} of process {p!r} "
                                       f"(seed {seed}); if it crashed, its stack is printed on stderr above") from err
                got.update(chunks[p][k][0][LABEL])
                bar.update(sum(min(got[c], n) for c, n in wanted.items()) - bar.n)
                if len(running) < 2 * workers:
                    submit()
    bar.close()

    parts, used, stats = [], {}, {}
    for p, want in wanted_by.items():
        used[p] = _prefix_needed(chunks[p], want)
        table = pd.concat([chunks[p][k][0] for k in range(used[p])], ignore_index=True)
        stats[p] = dict(sum((Counter(chunks[p][k][1]) for k in range(used[p])), Counter()))
        parts += [table[table[LABEL] == c].head(n) for c, n in want.items()]
    table = pd.concat(parts, ignore_index=True)
    table = table.sort_values(LABEL, kind="stable", key=lambda s: s.map(CLASSES.index)).reset_index(drop=True)
    table[FEATURES] = table[FEATURES].astype(np.float32)
    provenance = {
        "generator": "l1ad generate (Pythia 8 + FastJet/fjcontrib)",
        "seed": seed,
        "jets_per_class": wanted,
        "settings": asdict(settings),
        "chunks_used": used,
        "chunk_statistics": stats,
        "versions": {pkg: version(pkg) for pkg in ("pythia8mc", "fastjet", "awkward", "numpy")},
        "level": "particle level (visible final-state particles), no detector simulation, no pile-up",
    }
    return table, provenance
