"""float16, bfloat16 and integer inputs: output dtype, accumulation dtype, preferred_element_type.

Oracles: a float64 reference of the same (exactly representable) inputs, with the bound
u_out |y| + 2 gamma_K(float32) K max|x| max|w| (the output's final rounding plus float32
accumulation); jax.lax.conv_general_dilated with preferred_element_type; refconv.naive; exact
integer arithmetic. torch's CPU float16/bfloat16 convolution accumulates as its backend chooses,
so it is not used as an oracle here.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import assert_conv_close, reference_and_bounds, rounding_bound, terms
from tests.helpers import assert_close

ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 comes from ml_dtypes (installed with jax)")
LOW = [pytest.param(np.float16, id="float16"), pytest.param(ml_dtypes.bfloat16, id="bfloat16")]
KW: dict[str, Any] = dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2))


def _unit_roundoff(dtype: Any) -> float:
    return float(ml_dtypes.finfo(dtype).eps) / 2


def _arrays(dtype: Any) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 5, 9, 8)).astype(dtype)
    w = rng.standard_normal((4, 5, 3, 2)).astype(dtype)
    dy = rng.standard_normal(refconv.conv_output_shape(x.shape, w.shape, **KW)).astype(dtype)
    return x, w, dy


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize("dtype", LOW)
def test_low_precision_sums_accumulate_in_float32(module: Any, dtype: Any) -> None:
    """4096 ones: summed in float16 they stall at 2048, in bfloat16 at 256 (the next integer rounds
    back). The conv case catches naive's per-tap sums; the bias-VJP case, refconv's own multi-axis
    reduction (NumPy's low-precision matmul already accumulates in float32)."""
    ones = np.ones((1, 1, 4096), dtype)
    y = module.conv(ones, ones)
    assert y.dtype == np.dtype(dtype)
    assert float(y[0, 0, 0]) == 4096.0
    db = module.conv_bias_vjp(np.ones((4, 1, 32, 32), dtype))
    assert db.dtype == np.dtype(dtype)
    assert float(db[0]) == 4096.0


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize("dtype", LOW)
def test_low_precision_results_are_within_the_bound_of_float64(module: Any, dtype: Any) -> None:
    """Within one rounding to the dtype plus float32 accumulation's bound: a sum accumulated in the
    low-precision dtype itself would exceed it (gamma_K of float16 is 2**13 times float32's)."""
    x, w, dy = _arrays(dtype)
    y = module.conv(x, w, **KW)
    dx, dw, db = module.conv_vjp(x, w, dy, **KW)
    assert {a.dtype for a in (y, dx, dw, db)} == {np.dtype(dtype)}
    s = refconv.spec(x.shape, w.shape, **KW)
    x64, w64, dy64 = (np.abs(a.astype(np.float64)) for a in (x, w, dy))
    sums = refconv.testing.results(s, x64, w64, None, dy64)
    got = {"y": y, "dx": dx, "dw": dw, "db": db}
    for name, (reference, _) in reference_and_bounds(s, x, w, None, dy).items():
        bound = rounding_bound(sums[name], terms(s, name), dtype, reference, accumulate=np.float32)
        assert_close(f"{module.__name__} {np.dtype(dtype)}", name, got[name], reference, bound)


@pytest.mark.parametrize("dtype", LOW)
def test_preferred_element_type_float32_matches_jax(dtype: Any) -> None:
    jax = pytest.importorskip("jax")
    from jax import lax

    x, w, _ = _arrays(dtype)
    want = lax.conv_general_dilated(
        x, w, KW["stride"], KW["padding"], rhs_dilation=KW["dilation"],
        precision=lax.Precision.HIGHEST, preferred_element_type=np.float32,
    )  # fmt: skip
    got = refconv.conv(x, w, preferred_element_type=np.float32, **KW)
    assert got.dtype == np.float32 == np.asarray(want).dtype
    # both within the elementwise float32 bound of the exact (float64) result of the same inputs
    assert_conv_close(got, x, w, dtype=np.float32, **KW)
    assert_conv_close(np.asarray(want), x, w, dtype=np.float32, **KW)
    del jax


@pytest.mark.parametrize(
    ("in_dtype", "preferred"), [(np.int8, np.int32), (np.int32, np.int64), (np.uint8, np.int32)]
)
def test_integers_are_exact_with_preferred_element_type(in_dtype: Any, preferred: Any) -> None:
    info = np.iinfo(in_dtype)
    rng = np.random.default_rng(9)
    x = rng.integers(max(info.min, -1000), min(info.max, 1000), (2, 3, 7, 6), endpoint=True).astype(in_dtype)
    w = rng.integers(max(info.min, -1000), min(info.max, 1000), (4, 3, 3, 2), endpoint=True).astype(in_dtype)
    exact = np.rint(refconv.conv(x.astype(np.float64), w.astype(np.float64), **KW)).astype(np.int64)
    got = refconv.conv(x, w, preferred_element_type=preferred, **KW)
    assert got.dtype == np.dtype(preferred)
    np.testing.assert_array_equal(got, exact)
    np.testing.assert_array_equal(naive.conv(x, w, preferred_element_type=preferred, **KW), exact)
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    want = lax.conv_general_dilated(
        x, w, KW["stride"], KW["padding"], rhs_dilation=KW["dilation"], preferred_element_type=preferred
    )
    np.testing.assert_array_equal(np.asarray(want), exact)


def test_integer_outputs_keep_the_input_dtype_and_wrap_like_it() -> None:
    x = np.full((1, 1, 3), 100, np.int8)
    w = np.full((1, 1, 3), 2, np.int8)
    y = refconv.conv(x, w)  # 600 accumulated in int64, then cast to int8 as 600 - 512 = 88
    assert y.dtype == np.int8
    assert int(y[0, 0, 0]) == 600 - 512
    np.testing.assert_array_equal(naive.conv(x, w), y)


MISUSES = [
    (np.float32, np.int32, "preferred_element_type=int32 does not suit inputs of dtype float32"),
    (np.float64, np.float32, "preferred_element_type=float32 is narrower than, or drops the sign of"),
    (np.int32, np.uint32, "preferred_element_type=uint32 is narrower than, or drops the sign of"),
    (np.complex64, np.float64, "preferred_element_type=float64 does not suit inputs of dtype complex64"),
    (np.float32, "nonsense", "preferred_element_type='nonsense' is not a dtype"),
]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("in_dtype", "preferred", "message"), MISUSES, ids=[m[2][:40] for m in MISUSES])
def test_preferred_element_type_follows_jax_rules(
    module: Any, in_dtype: Any, preferred: Any, message: str
) -> None:
    x, w = np.ones((1, 2, 5), in_dtype), np.ones((3, 2, 2), in_dtype)
    with pytest.raises(TypeError, match=re.escape(message)):
        module.conv(x, w, preferred_element_type=preferred)
    with pytest.raises(TypeError, match=re.escape(message)):
        module.conv_vjp(x, w, np.ones((1, 3, 4), in_dtype), preferred_element_type=preferred)


# refconv's promotion of ml_dtypes' floats (README's dtype line): the rule ml_dtypes 0.7 registers with
# NumPy, whatever ml_dtypes is installed; each row is (a, b, result) from that rule's statement: a float
# that holds the other exactly wins, two floats that do not hold each other give float32, a NumPy dtype
# promotes as float16 would but two different floats give at least float32.
PROMOTIONS = [
    ("bfloat16", "float16", "float32"),  # neither holds the other: bfloat16 has 8 bits of mantissa
    ("bfloat16", "float32", "float32"),
    ("bfloat16", "float64", "float64"),
    ("bfloat16", "int8", "bfloat16"),  # as float16 with int8
    ("bfloat16", "uint8", "bfloat16"),
    ("bfloat16", "int16", "float32"),  # as float16 with int16
    ("bfloat16", "int32", "float64"),
    ("bfloat16", "complex64", "complex64"),
    ("bfloat16", "float8_e4m3fn", "bfloat16"),  # bfloat16 holds every float8_e4m3fn exactly
    ("bfloat16", "float8_e5m2", "bfloat16"),
    ("float16", "float8_e4m3fn", "float32"),  # float16 is NumPy's: two different floats give float32
    ("float8_e4m3fn", "float8_e5m2", "float32"),  # e5m2 has the range, e4m3fn the mantissa
    ("float8_e4m3fn", "int32", "float64"),
]


def _ml(name: str) -> Any:
    return np.dtype(getattr(ml_dtypes, name, None) or name)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("a", "b", "result"), PROMOTIONS, ids=[f"{a}-{b}" for a, b, _ in PROMOTIONS])
def test_ml_dtypes_floats_promote_by_one_rule_whatever_ml_dtypes_is_installed(
    module: Any, a: str, b: str, result: str
) -> None:
    x, w = np.ones((1, 2, 5), _ml(a)), np.ones((3, 2, 2), _ml(b))
    y = module.conv(x, w)
    assert y.dtype == _ml(result)
    assert module.conv(np.ones((1, 2, 5), _ml(b)), np.ones((3, 2, 2), _ml(a))).dtype == _ml(result)
    assert y[0, 0, 0] == 4  # 2 channels x 2 taps of ones, exact in every dtype


@pytest.mark.parametrize(
    ("x", "w", "b", "result"),
    [
        ("bfloat16", "bfloat16", "bfloat16", "bfloat16"),  # one ml_dtypes float: itself
        ("bfloat16", "float32", "float32", "float32"),  # two NumPy floats after the first pair
        ("float16", "float16", "bfloat16", "float32"),
        ("float8_e4m3fn", "float8_e4m3fn", "bfloat16", "bfloat16"),
    ],
)
def test_three_operands_promote_pair_by_pair(x: str, w: str, b: str, result: str) -> None:
    y = refconv.conv(np.ones((1, 2, 5), _ml(x)), np.ones((3, 2, 2), _ml(w)), np.ones(3, _ml(b)))
    assert y.dtype == _ml(result)
    assert y[0, 0, 0] == 5  # four products of ones and the bias: exact in every dtype here


def test_the_promotion_rule_is_ml_dtypes_own_where_it_defines_every_pair() -> None:
    """From ml_dtypes 0.7 on, NumPy's result type of every pair of its floats and NumPy's numeric
    dtypes is defined; refconv's rule gives the same dtype for every pair (616 of them)."""
    version = tuple(int(v) for v in ml_dtypes.__version__.split(".")[:2])
    if version < (0, 7):
        pytest.skip(f"ml_dtypes {ml_dtypes.__version__} leaves pairs undefined (bfloat16 with float16)")
    floats = [n for n in dir(ml_dtypes) if n.startswith(("bfloat16", "float"))]
    floats = [n for n in floats if isinstance(getattr(ml_dtypes, n), type) and n != "finfo"]
    numpy_ = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
              "float16", "float32", "float64", "complex64", "complex128"]  # fmt: skip
    dtypes = [_ml(n) for n in floats + numpy_]
    pairs = [(a, b) for a in dtypes for b in dtypes if _is_ml(a) or _is_ml(b)]
    assert len(pairs) >= 400
    for a, b in pairs:
        got = refconv.spec((1, 1, 2), (1, 1, 1), dtype=[a, b]).dtype
        assert got == np.result_type(a, b), (a, b)


def _is_ml(dtype: np.dtype[Any]) -> bool:
    return dtype.type.__module__ == "ml_dtypes"


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize("in_dtype", [np.int8, np.uint8, np.int32])
def test_integers_with_a_float_preferred_element_type_accumulate_in_it(module: Any, in_dtype: Any) -> None:
    """JAX's rules let integers ask for a float result of at least their width; XLA converts them and sums
    in that float, and so does refconv: the spec says float32, and float32 values below 2**24 are exact."""
    s = refconv.spec((2, 3, 7, 6), (4, 3, 3, 2), dtype=in_dtype, preferred_element_type=np.float32)
    assert (s.dtype, s.accumulate) == (np.dtype(np.float32), np.dtype(np.float32))
    rng = np.random.default_rng(10)
    x = rng.integers(0, 100, (2, 3, 7, 6)).astype(in_dtype)
    w = rng.integers(0, 100, (4, 3, 3, 2)).astype(in_dtype)
    exact = np.rint(refconv.conv(x.astype(np.float64), w.astype(np.float64), **KW))
    got = module.conv(x, w, preferred_element_type=np.float32, **KW)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, exact)


def test_ml_dtypes_integers_are_not_floats() -> None:
    """ml_dtypes' int4 (NumPy kind 'V') is neither NumPy's integer nor one of ml_dtypes' floats."""
    x = np.ones((1, 1, 3), ml_dtypes.int4)
    with pytest.raises(TypeError) as error:
        refconv.conv(x, np.ones((1, 1, 2)))
    assert str(error.value).startswith("x has dtype int4; expected an integer, float or complex dtype")


def _python_int_conv(x: np.ndarray, w: np.ndarray) -> list[int]:
    """The 1-d convolution of one channel, in Python's integers: exact, never wrapped or rounded."""
    k = w.shape[-1]
    return [sum(int(x[0, 0, j + t]) * int(w[0, 0, t]) for t in range(k)) for j in range(x.shape[-1] - k + 1)]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_int64_sums_are_exact_beyond_float64s_integers(module: Any) -> None:
    """Products near 2**60 differ in their last bits from any float64: an int64 accumulator keeps them,
    as Python's integers do (the reference here); a float accumulator would round them away."""
    x = np.array([[[2**30 + 1, 2**30 + 3, 2**30 + 5, 7]]], np.int64)
    w = np.array([[[2**30 + 7, 2**30 + 11, 13]]], np.int64)
    want = _python_int_conv(x, w)
    assert max(want) < 2**63
    assert any(v != int(float(v)) for v in want)
    got = module.conv(x, w)
    assert got.dtype == np.int64
    assert got[0, 0].tolist() == want


def test_a_dtype_only_ml_dtypes_defines_can_be_named_before_ml_dtypes_is_imported() -> None:
    """refconv imports ml_dtypes (which registers "bfloat16" and its kin with NumPy) when a dtype's name
    needs it: in a fresh interpreter, where nothing imported ml_dtypes yet, and in this one, where this
    module did (mutmut also picks the tests for a function by the calls it sees in this process)."""
    import subprocess
    import sys

    assert refconv.spec((1, 1, 3), (1, 1, 2), dtype="bfloat16").dtype == np.dtype(ml_dtypes.bfloat16)
    with pytest.raises(TypeError, match=r"^dtype='bfloat17' is not a dtype$"):  # not even with ml_dtypes
        refconv.spec((1, 1, 3), (1, 1, 2), dtype="bfloat17")

    code = (
        "import sys, refconv\n"
        "assert 'ml_dtypes' not in sys.modules\n"
        "print(refconv.spec((1, 1, 3), (1, 1, 2), dtype='bfloat16').dtype)\n"
        "s = refconv.spec((1, 1, 3), (1, 1, 2), dtype='float16', preferred_element_type='bfloat16')\n"
        "print(s.dtype)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (out.returncode, out.stdout.split()) == (0, ["bfloat16", "bfloat16"]), out.stderr


def _unsigned_extremes(in_dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    info = np.iinfo(in_dtype)
    x = np.array([[[info.max, info.max - 2, 5, info.max // 3]]], in_dtype)
    return x, np.array([[[info.max // 2, info.max // 2 + 5]]], in_dtype)


UNSIGNED_TO_SIGNED = [(np.uint32, np.int64), (np.uint8, np.int16)]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("in_dtype", "preferred"), UNSIGNED_TO_SIGNED)
def test_unsigned_inputs_with_a_signed_preferred_type_sum_in_integers(
    module: Any, in_dtype: Any, preferred: Any
) -> None:
    """Unsigned inputs asked for a signed result are converted to it (XLA's rule) and summed in int64,
    wrapping like it, never in the float64 NumPy promotes uint64 and int64 to (it rounded these sums
    and cast the overflow to INT_MIN). The reference: Python's integers, wrapped to the output's width."""
    x, w = _unsigned_extremes(in_dtype)
    bits = np.iinfo(preferred).bits
    want = [(v + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1) for v in _python_int_conv(x, w)]
    s = refconv.spec(x.shape, w.shape, dtype=in_dtype, preferred_element_type=preferred)
    assert (s.dtype, s.accumulate) == (np.dtype(preferred), np.dtype(np.int64))
    got = module.conv(x, w, preferred_element_type=preferred)
    assert got.dtype == np.dtype(preferred)
    assert got[0, 0].tolist() == want


@pytest.mark.parametrize(("in_dtype", "preferred"), UNSIGNED_TO_SIGNED)
def test_unsigned_inputs_with_a_signed_preferred_type_match_jax(in_dtype: Any, preferred: Any) -> None:
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x, w = _unsigned_extremes(in_dtype)
    want = lax.conv_general_dilated(x, w, (1,), "VALID", preferred_element_type=preferred)
    np.testing.assert_array_equal(refconv.conv(x, w, preferred_element_type=preferred), np.asarray(want))
