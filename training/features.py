"""Names shared by every part of l1ad: the 16 jet features and the jet classes.

The feature order is the hls4ml LHC jet dataset's (OpenML 42468, Zenodo 10.5281/zenodo.3602254);
the firmware input vector follows it, so never reorder it.
"""

FEATURES = [
    "zlogz",
    "c1_b0_mmdt",
    "c1_b1_mmdt",
    "c1_b2_mmdt",
    "c2_b1_mmdt",
    "c2_b2_mmdt",
    "d2_b1_mmdt",
    "d2_b2_mmdt",
    "d2_a1_b1_mmdt",
    "d2_a1_b2_mmdt",
    "m2_b1_mmdt",
    "m2_b2_mmdt",
    "n2_b1_mmdt",
    "n2_b2_mmdt",
    "mass_mmdt",
    "multiplicity",
]

LABEL = "jet_type"
CLASSES = ["g", "q", "t", "w", "z"]
BACKGROUND = ["g", "q"]  # QCD: what the autoencoder learns as "normal"
SIGNALS = ["t", "w", "z"]  # anomalies the trigger should catch
