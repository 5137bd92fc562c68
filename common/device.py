"""The target device every stage assumes unless told otherwise: one place for the part and the clock."""

DEFAULT_PART = "xcvu9p-flga2104-2L-e"  # Virtex UltraScale+ VU9P, the device of Govorkova et al. (Nature MI 2022)
DEFAULT_CLOCK_MHZ = 200.0  # the Level-1 trigger's usual fabric clock; a 5 ns period


def period_ns(clock_mhz: float) -> float:
    return 1000.0 / clock_mhz
