"""Training time per epoch and inference throughput of the float and QKeras models.

Run on demand: `.venv/bin/python benchmarks/bench_training.py [--epochs N]`. Uses the embedded sample
and the default config; prints figures, asserts nothing.
"""

import argparse
import tempfile
import time
from pathlib import Path


from l1ad.training import models
from l1ad.training.config import load_config
from l1ad.training.datasets import DEFAULT_SAMPLE, Scaler, split
from l1ad.training.io import load_jets


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    # the default's pruning schedule squeezed into the measured epochs, so each epoch costs what a pruned one does
    config = load_config(overrides={"training": {"epochs": args.epochs},
                                    "pruning": {"begin_epoch": 0, "end_epoch": args.epochs}})
    parts = split(load_jets(DEFAULT_SAMPLE), config.seed, config.data.val_fraction, config.data.test_fraction,
                  config.data.signal_train_fraction)
    scaler = Scaler.fit(parts.train, config.data.transform)
    x_train, x_val, x_test = (scaler.transform(p) for p in (parts.train, parts.val, parts.test))
    print(f"{len(x_train)} training jets, batch {config.training.batch_size}, {args.epochs} epochs per model")
    for kind, quantized in (("float", False), ("qkeras", True)):
        models.set_seed(config.seed)
        model, scoring = models.build(config, quantized=quantized)
        model.compile(models.optimizer(config), loss="mse")
        model.fit(x_train[:512], x_train[:512], epochs=1, verbose=0)  # graph tracing, not timed
        start = time.perf_counter()
        model.fit(x_train, x_train, batch_size=config.training.batch_size, epochs=args.epochs, verbose=0,
                  validation_data=(x_val, x_val))
        per_epoch = (time.perf_counter() - start) / args.epochs
        with tempfile.TemporaryDirectory() as tmp:  # time the saved model, as the pipeline uses it
            scoring.save(Path(tmp) / "m.h5")
            saved = models.load(Path(tmp) / "m.h5")
        models.scores(saved, x_test[:1000])
        start = time.perf_counter()
        models.scores(saved, x_test)
        rate = len(x_test) / (time.perf_counter() - start)
        print(f"{kind:7}: {per_epoch:.2f} s per epoch (with validation); predict {rate:,.0f} jets/s "
              f"on {len(x_test)} test jets (Keras, batch 8192)")


if __name__ == "__main__":
    main()
