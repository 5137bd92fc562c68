"""Published figures of comparable systems, for context in reports (never mixed with our measurements).

Each entry cites its paper; entries marked unverified were collected from secondary notes and not re-read in the
paper itself.
"""

ANCHORS = [
    {
        "system": "Govorkova et al., DNN AE 57-32-16-3-16-32-57, QAT 8 bit, Xilinx VU9P",
        "citation": "Nature Machine Intelligence 4 (2022) 154, arXiv:2108.03986",
        "latency": "130 ns (II 5 ns)", "resources": "DSP 2%, LUT 5%, FF 1% of VU9P", "verified": False,
    },
    {
        "system": "Govorkova et al., abstract (best design)",
        "citation": "Nature Machine Intelligence 4 (2022) 154, arXiv:2108.03986",
        "latency": "as little as 80 ns", "resources": "less than 3% of the logic of a VU9P", "verified": True,
    },
    {
        "system": "CMS AXOL1TL v5, autoencoder 57-29-10-9-6-4-6-9-10, 6-bit weights, Virtex-7 690T",
        "citation": "CMS Global Trigger, in the menu since 2024",
        "latency": "fixed budget 50 ns (2 bunch crossings, 25 ns clock)", "resources": "~2.4k parameters",
        "verified": True,
    },
    {
        "system": "hls4ml tutorial jet tagger 16-64-32-32-5, QKeras 6 bit + 75% pruning, Vitis HLS 2024.1, xcu250",
        "citation": "hls4ml tutorial (fastmachinelearning.org/hls4ml-tutorial)",
        "latency": "12 cycles (60 ns) at 5 ns, II 1", "resources": "DSP 34, LUT 42,160, FF 3,199",
        "verified": True,
    },
    {
        "system": "hls4ml tutorial jet tagger 16-64-32-32-5, float ap_fixed<16,6>, Vitis HLS 2024.1, xcu250",
        "citation": "hls4ml tutorial (fastmachinelearning.org/hls4ml-tutorial)",
        "latency": "14 cycles (70 ns) at 5 ns, II 1", "resources": "DSP 1502, LUT 101,839, FF 9,363",
        "verified": True,
    },
]

BUNCH_CROSSING_NS = 25.0  # LHC: a new event every 25 ns, so a trigger algorithm needs II = 1 at 40 MHz or faster
