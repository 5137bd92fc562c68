"""hls4ml conversion, bit-exact C simulation, open RTL and hardware reports, on models and arrays.

The library API (documented in the README, "Bring your own model")::

    from l1ad.firmware import build_rtl, check, check_model, convert_model, with_trigger
    model = with_trigger(qmodel, score="score", threshold=1.9)    # its graph, score > threshold as a last output
    project = convert_model(model, "hls_projects/mine", tb_inputs=x[:2000])
    result = check(model, project, x)     # per-output agreement, fixed-point audit, first divergent layer
    rtl = build_rtl(model, "rtl_builds/mine", x)                  # Verilator + yosys, latency, resources

Run folders (``l1ad train``, ``l1ad import``) are one layer above, in :mod:`l1ad.stages`.
"""

_API = {
    "check_model": "reader", "Graph": "graph", "supported_layers": "kinds", "UnsupportedModel": "fixed",
    "FirmwareOptions": "convert", "convert_model": "convert", "with_trigger": "trigger",
    "check": "validate", "build_rtl": "rtl", "Csim": "csim", "evaluate_exactly": "reference",
}


def __getattr__(name):  # lazy: importing the package loads neither TensorFlow nor hls4ml
    if name not in _API:
        raise AttributeError(name)
    from importlib import import_module

    module = import_module(f"{__name__}.{_API[name]}")
    return getattr(module, "outputs" if name == "evaluate_exactly" else name)
