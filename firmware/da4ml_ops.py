"""da4ml arithmetic that stays exact: QKeras' rounding and saturation, and squares without multipliers.

The kinds (:mod:`.kinds`) trace a graph into da4ml's fixed-point tracer with these, for the open RTL flow
(:mod:`.rtl`); each works around a behaviour of da4ml 0.5.2 that its docstring names.
"""

from __future__ import annotations

import numpy as np

from .fixed import Fixed


def round_half_even(v, k: int, i: int, f: int, sym: bool = False):
    """Quantize a da4ml FixedVariable to (k, i, f), rounding half to even, then saturating.

    Rounding: add 2^-(f+1) - 2^-f_in, plus 2^-f_in when the kept LSB (weight 2^-f) is 1, then truncate:
    ties go up exactly when that makes the result even; other values cannot cross a 2^-f boundary.
    Saturation: low + relu(x - low) - relu(x - high). da4ml's own SAT (a comparison against a
    constant) gave wrong values in 0.5.2 once its optimizer had scaled a variable by a tiny power of
    two, as happens after several layers; the relu form is exact there too.
    The truncation keeps the integer bits its floor needs (a range within (-0.25, 0.25) truncated to integers gives
    -1 or 0: found by the differential benchmark, where keeping the input's integer bits wrapped -1 to 0).
    Where every value of the variable's range rounds to one value (a constant, or a narrow range: rounding and
    saturation are monotonic, so the ends tell), that value is computed here, in integers, and returned as a
    constant: da4ml 0.5.2's bit slices of a negative constant are wrong (-0.6875 to 2 fractional bits gave -1.0, not
    -0.75).
    """
    from da4ml.trace.fixed_variable import FixedVariable

    fixed = Fixed.quantizer(k, i, f, sym)
    _, _, f_in = v.kif
    step = 2 ** max(int(f_in), 0)
    ends = fixed.round(np.array([int(v.low * step), int(v.high * step)], dtype=object), max(int(f_in), 0))
    if ends[0] == ends[1]:
        return FixedVariable.from_const(float(int(ends[0])) * 2.0**-f, hwconf=v.hwconf, _factor=1)
    if f < f_in:
        kept_lsb = v.quantize(0, 1 - f, f)  # one-bit slice, value 0 or 2^-f
        v = v + (kept_lsb >> (f_in - f)) + (2.0 ** (-f - 1) - 2.0**-f_in)
    _k, _i, _ = v.kif
    v = v.quantize(_k, max(_i, -f) + 1, f, "WRAP", "TRN")  # truncate (floor), wide enough for the floor
    low, high = Fixed.quantizer(k, i, f, sym).min, 2.0**i - 2.0**-f
    if v.low < low or v.high > high:
        v = (v - low).relu() - (v - high).relu() + low
    return v.quantize(k, i, f, "WRAP", "TRN")  # in range now: only narrows the word


def quantize_da4ml(x, fixed: Fixed):
    from da4ml.trace import FixedVariableArray

    out = np.array([round_half_even(v, fixed.k, fixed.i, fixed.f, fixed.sym) for v in x._vars.ravel()])
    out = out.reshape(x.shape)
    return FixedVariableArray(out, x.solver_options)


def _square_shift_add(x):
    """x^2 of one da4ml variable from adders only, no multiplier (no DSP, short carry chains).

    With a = |x| = sum_j a_j 2^j: a^2 = sum_j a_j p_j, p_j = 2^(2j) + 2^(j+1) (a mod 2^j) < 2^(2j+2), a triangle
    of partial products summed by a balanced adder tree. Each a_j p_j is relu(p_j + a_j 2^(2j+2) - 2^(2j+2)):
    p_j when the bit is set, else a negative number clipped to 0; one adder and da4ml's relu, which (unlike its
    msb_mux in 0.5.2) stays exact whatever internal scale da4ml gave the variable. A multiplier ``x * x``
    instead maps to one DSP per square in yosys, or to about three times the LUTs without DSPs.
    """
    from da4ml.trace.fixed_variable import FixedVariable

    a = abs(x)
    _, i, f = a.kif
    terms = []
    for j in range(-f, i):
        bit = a.quantize(0, j + 1, -j)  # a_j 2^j
        top = 2.0 ** (2 * j + 2)
        if j > -f:
            pp = a.quantize(0, j, f) * 2.0 ** (j + 1) + 2.0 ** (2 * j)
            terms.append((pp + bit * 2.0 ** (j + 2) - top).relu())
        else:
            terms.append(bit * 2.0**j)  # a_j 2^(2j), j the lowest bit
    if not terms:
        return FixedVariable.from_const(0.0, hwconf=a.hwconf, _factor=1)
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k] for k in range(0, len(terms), 2)]
    return terms[0]


# Squares of values with at most this many bits come from a table (da4ml's lookup, a ROM that yosys maps to LUTs):
# measured with yosys for xcup, 9 LUT vs 19 LUT + 8 CARRY4 from adders at 6 bits, 21 LUT vs 28 LUT + 10 CARRY4 at 7;
# at 8 bits the table is larger (41 LUT vs 36 LUT + 13 CARRY4).
TABLE_SQUARE_BITS = 7


def _square_table(x):
    """x^2 of one da4ml variable read from a table of every value x can take (exact: the squares are constants)."""
    n = round(float((x.high - x.low) / x.step)) + 1
    return x.lookup(np.linspace(float(x.low), float(x.high), n) ** 2)


def _square(x):
    if x.low == x.high:  # a constant, squared in numbers: da4ml 0.5.2's bit slices of a negative constant are wrong
        from da4ml.trace.fixed_variable import FixedVariable

        return FixedVariable.from_const(float(x.low * x.low), hwconf=x.hwconf, _factor=1)
    n = round(float((x.high - x.low) / x.step)) + 1 if x.step else 1
    return _square_table(x) if 1 < n <= 2**TABLE_SQUARE_BITS else _square_shift_add(x)


def square_da4ml(x, dsp: bool = False):
    """Squares of an array: tables for narrow values, shift-and-add logic otherwise, or (``dsp``) multipliers that
    yosys maps to DSPs."""
    from da4ml.trace import FixedVariableArray

    if dsp:
        return x**2
    out = np.array([_square(v) for v in x._vars.ravel()]).reshape(x.shape)
    return FixedVariableArray(out, x.solver_options)


CONSTANT_BITS = 30  # a constant piece da4ml holds exactly: a float, at most 32 fractional bits (its _const_f)


def add_constant(v, c):
    """``v + c`` for a constant c of any precision. da4ml 0.5.2 sizes an added constant from its float value to at
    most 32 fractional bits, and folds a constant added to a sum with a constant into one constant sized the same way,
    so the bits of a finer constant below the variable's own step are lost (found by the differential benchmark:
    float Dense weights times a constant 2^-32). The constant is added in pieces of at most 30 significant bits, each
    as an integer at its own scale (shifts are free: ``(v * 2^-e + m) * 2^e``), each to a value that is not itself
    a sum with a constant (:func:`_wire`)."""
    from fractions import Fraction

    c = Fraction(c)
    if c == 0:
        return v
    num, den = c.numerator, c.denominator
    frac = den.bit_length() - 1  # den is a power of two
    sign, magnitude = (-1 if num < 0 else 1), abs(num)
    low = 0
    while magnitude:
        piece = magnitude & ((1 << CONSTANT_BITS) - 1)
        if piece:
            scale = 2.0 ** (low - frac)  # piece * scale is this piece's value
            v = (_wire(v) * (1 / scale) + sign * piece) * scale
        magnitude >>= CONSTANT_BITS
        low += CONSTANT_BITS
    return v


def _wire(v):
    """v itself, as a value da4ml will not fold a following constant into: a sum with a constant ('cadd') becomes
    da4ml's own exact requantization to its own range ('wrap', as FixedVariable.quantize builds it), a wire in the
    Verilog."""
    from da4ml.trace.fixed_variable import FixedVariable

    if v.opr != "cadd":
        return v
    return FixedVariable(v.low, v.high, v.step, _from=(v,), _factor=abs(v._factor), opr="wrap", latency=v.latency,
                         hwconf=v.hwconf)


def affine_da4ml(x, matrix: np.ndarray, bias: np.ndarray):
    """``x @ matrix + bias`` of a da4ml array with exact constants: da4ml's constant-matrix multiplication on the
    inputs that vary; the inputs that are constants (a layer da4ml found constant) contribute, with the bias, exact
    constants added by :func:`add_constant` (da4ml folds them in floats of 32 fractional bits)."""
    from fractions import Fraction

    from da4ml.trace import FixedVariableArray

    variables = x._vars.ravel()
    constant = np.array([v.low == v.high for v in variables])
    offsets = [Fraction(float(b)) for b in np.ravel(bias)]
    for j in np.flatnonzero(constant):
        value = Fraction(variables[j].low)
        for k in range(matrix.shape[1]):
            offsets[k] += value * Fraction(float(matrix[j, k]))
    if constant.all():
        from da4ml.trace.fixed_variable import FixedVariable

        hwconf = variables[0].hwconf
        return FixedVariableArray(np.array([FixedVariable.from_const(float(o), hwconf=hwconf, _factor=1)
                                            for o in offsets]), x.solver_options)
    live = _exact_matmul(FixedVariableArray(variables[~constant], x.solver_options), matrix[~constant])
    out = [add_constant(v, o) for v, o in zip(live._vars.ravel(), offsets)]
    return FixedVariableArray(np.array(out), x.solver_options)


def signed_digits(n: int) -> list[tuple[int, int]]:
    """The canonical signed-digit form of integer ``n``: (digit +-1, position) pairs, fewest nonzero digits."""
    digits, position = [], 0
    while n:
        if n & 1:
            digit = 2 - (n & 3)  # +1 when n = 1 mod 4, -1 when n = 3 mod 4: no two adjacent nonzero digits
            digits.append((digit, position))
            n -= digit
        n >>= 1
        position += 1
    return digits


def scale_da4ml(x, c: float):
    """``x * c`` for a constant ``c`` of any precision: ``x`` shifted by each nonzero digit of ``c``'s canonical
    signed-digit form, added (da4ml's own product with a float stops at 32 fractional bits, _const_f); a power of
    two is one shift."""
    num, den = float(c).as_integer_ratio()  # den a power of two: every float is a dyadic fraction
    shift = den.bit_length() - 1
    out = None
    for digit, position in signed_digits(num):
        term = x * (digit * 2.0 ** (position - shift))
        out = term if out is None else out + term
    return out


def float32_pieces(matrix: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """``matrix`` as a sum of pieces ``m * 2^e`` where float32 holds every entry of m exactly: da4ml 0.5.2's
    constant-matrix multiplication reads its matrix as float32 (cmvm: ``cm.astype(np.float32)``), which drops the
    bits of a float64 constant (a folded batch normalisation, a weight times a quantizer's scale) beyond 24 (found by
    the differential benchmark). Each piece is scaled to float32's range before it is rounded, so no entry is lost to
    underflow; rounding leaves an exact float64 remainder, so the pieces add up to the matrix exactly."""
    pieces, rest = [], np.asarray(matrix, dtype=np.float64)
    while np.any(rest):
        e = int(np.frexp(np.max(np.abs(rest)))[1])
        piece = np.ldexp(np.ldexp(rest, -e).astype(np.float32).astype(np.float64), e)
        pieces.append((np.ldexp(piece, -e), e))
        rest = rest - piece
    return pieces


def _exact_matmul(x, matrix: np.ndarray):
    """``x @ matrix`` with every bit of a float64 matrix: one da4ml multiplication per float32 piece, shifted back
    (free in hardware) and added; a matrix float32 holds is one piece, as before."""
    pieces = float32_pieces(matrix)
    if not pieces:
        return x @ np.zeros_like(matrix)
    out = None
    for piece, e in pieces:
        term = (x @ piece) * 2.0**e if e else x @ piece
        out = term if out is None else out + term
    return out
