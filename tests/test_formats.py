"""benchdnn descriptors and MIOpenDriver command lines read as refconv cases: real problems from oneDNN's,
MIOpen's and rocMLIR's own files, with the output sizes those projects state or compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import refconv
from refconv import formats
from refconv.cli import main
from refconv.formats import benchdnn, miopen

#: (descriptor as it appears in oneDNN's tests/benchdnn/inputs/conv/, its spatial output, its paddings
#: (left, right) per dim: the right one derived by benchdnn's opp_pad, negative where rows are unread)
BENCHDNN = [
    ('g1mb50ic3ih224iw224oc64oh112ow112kh7kw7sh2sw2ph3pw3n"resnet_50:conv1"', (112, 112), ((3, 2), (3, 2))),
    ('mb50ic64ih56oc64oh56kh3ph1n"resnet_50:res2a_branch2b*3"', (56, 56), ((1, 1), (1, 1))),
    ('g1mb50ic256ih56iw56oc128oh28ow28kh1kw1sh2sw2ph0pw0n"resnet_50:res3a'
     '_branch2a"', (28, 28), ((0, -1),) * 2),
    ('g64mb1ic64ih112iw112oc64oh56ow56kh3kw3sh2sw2ph1pw1n"mobilenet:conv2_2/dw"', (56, 56), ((1, 0), (1, 0))),
    ('g1mb50ic3iw224oc64kw7sw1pw0n"conv1d:1"', (218,), ((0, 0),)),
    ('mb1ic32iw121oc32kw6pw0sw4n"conv1d:15"', (29,), ((0, -3),)),
    ('g100_ic400oc400_iw18kw2sw2_n"1d_gconv_channel-block-4-strided"', (9,), ((0, 0),)),
    ('ic512oc1024_iw19ow19kw3sw1dw5pw6n"conv1d_gemm:3"', (19,), ((6, 6),)),
    ('mb20ic4ih8oc6oh3kh3sh2ph1dh1n"dilated_conv:1"', (3, 3), ((1, 0), (1, 0))),
    ('mb20ic4ih10oc6oh3kh3sh2ph2dh3n"dilated_conv:6"', (3, 3), ((2, 1), (2, 1))),
    ("mb1_g1ic64oc64_ih1000kh3sh1dh127ph128", (1000, 1000), ((128, 128), (128, 128))),
    ('mb1ic3ih132iw132id116oc32kh3kw3kd3ph0pw0pd0sh1sw1sd1n"3d_unet:conv_1"', (114, 130, 130), ((0, 0),) * 3),
    ('g2_ic32oc32_id17kd2_n"3d_gconv_channel-block-16"', (16, 16, 16), ((0, 0),) * 3),
    ('mb2ic16id3ih1iw1oc16od1oh1ow1kd2kh1kw1pd1ph0pw0dd2dh0dw0n"dilated_conv:27"', (1, 1, 1),
     ((1, 0), (0, 0), (0, 0))),
    ('mb1_ic16oc16_kd1kh3kw1_id1ih3iw1_od1oh1ow1_sd1sh1sw1_pd0ph0pw0_dd0dh3dw0n"dilated_2d_strided_padding_1'
     '_ph-bottom(6)"', (1, 1, 1), ((0, 0), (0, 6), (0, 0))),
    ("mb1ic16oc16_ih16kh3ph1oh15_iw16kw3pw0ow15", (15, 15), ((1, 0), (0, 1))),
    ("mb1ic16oc16_ih10kh5_ph7sh1", (20, 20), ((7, 7), (7, 7))),
    ('mb1_g16ic16oc16_ih10oh10kh3_iw15ow8kw1sw2pw0n"dw_regression:conv12"', (10, 8), ((1, 1), (0, 0))),
    ("mb2ic16ih33oc16oh16kh2sh2", (16, 16), ((0, -1), (0, -1))),  # C's division: ph = -1 / 2 = 0
    ("mb2_g1ic32oc32_ih7oh11kh3ph2", (11, 11), ((2, 4), (2, 4))),
    ('mb2_ic32oc32_ih41oh16kh10sh2ph0_iw79ow75kw5sw1pw0n"ds2"', (16, 75), ((0, -1), (0, 0))),
]  # fmt: skip
#: (a --deconv descriptor of oneDNN's inputs/deconv/, its spatial output, its paddings)
DECONV = [
    ('g1mb256oc3oh227ow227ic96ih55iw55kh11kw11sh4sw4ph0pw0n"alexnet:deconv1"', (227, 227), ((0, 0), (0, 0))),
    ("ic16ih7oc16kh3sh2ph1", (13, 13), ((1, 1), (1, 1))),
    ('ic8iw5oc8ow2kw3pw3dw2n"deconv1d:1"', (2,), ((3, 6),)),
    ('mb1_g1oc3ic64_ow1030iw512kw7sw2dw0pw0_n"masknet_p1:deconv1"', (1030,), ((0, -1),)),
]  # fmt: skip
#: (a MIOpenDriver command line of MIOpen's tests or rocMLIR's configuration lists, its output shape)
MIOPEN = [
    ("conv -F 1 -f N01GC -I 01NGC -O NGC01 -n 1 -c 3 -H 224 -W 224 -k 64 -y 7 -x 7 -p 3 -q 3 -u 2 -v 2 "
     "-l 1 -j 1 "
     "-g 1 -perf_priority 2", (1, 64, 112, 112)),
    ("conv -F 1 -f GN01C -I N01GC -O N01GC -n 1 -c 1280 -H 3000 -W 1 -k 1280 -y 3 -x 1 -p 1 -q 0 -u 2 "
     "-v 1 -l 1 "
     "-j 1 -g 1 -perf_priority 1", (1, 1280, 1500, 1)),
    ("conv -F 1 -f GNC01 -I NGC01 -O NGC01 -n 16 -c 3 -H 299 -W 299 -k 32 -y 3 -x 3 -p 0 -q 0 -u 2 -v 2 "
     "-l 1 -j 1 "
     "-g 1", (16, 32, 149, 149)),
    ("-n 256 -c 128 -H 58 -W 58 -k 128 -y 3 -x 3 -p 0 -q 0 -u 2 -v 2 -l 1 -j 1 -g 1 -m conv -t 1",
     (256, 128, 28, 28)),
    ("conv -m trans -x 1 -y 7 -W 17 -H 17 -c 32 -n 128 -k 16 -p 3 -q 0 -u 1 -v 1 -l 1 -j 1 -g 2 -F 0 -V 1",
     (128, 16, 17, 17)),
    ("conv -m trans -x 10 -y 5 -W 341 -H 79 -c 32 -n 4 -k 8 -p 0 -q 0 -u 2 -v 2 -l 1 -j 1 -g 4 -F 0 -V 1",
     (4, 8, 161, 690)),
    ("conv -m trans -x 7 -y 7 -W 224 -H 224 -c 3 -n 16 -k 64 -p 3 -q 3 -u 2 -v 2 -l 1 -j 1 -g 1 -F 0 -V 1",
     (16, 64, 447, 447)),
    ("convfp16 -n 2 -c 64 --in_d 128 -H 128 -W 128 -k 32 --fil_d 3 -y 3 -x 3 --pad_d 1 -p 1 -q 1 "
     "--conv_stride_d 1 "
     "-u 1 -v 1 --dilation_d 1 -l 1 -j 1 --spatial_dim 3 -m conv -g 1 -F 1 -t 1", (2, 32, 128, 128, 128)),
    ("conv -W 5078 -H 4903 -c 24 -n 5 -k 1 --fil_w 3 --fil_h 3 --pad_w 6 --pad_h 4 -F 1", (5, 1, 4909, 5088)),
    ("./bin/MIOpenDriver conv --batchsize 64 --spatial_dim 2 --pad_h 1 --pad_w 1 --pad_d 0 --conv_stride_h 1 "
     "--conv_stride_w 1 --conv_stride_d 0 --dilation_h 1 --dilation_w 1 --dilation_d 0 --group_count 32 "
     "--mode conv "
     "--pad_mode default --in_h 112 --in_w 112 --fil_d 1 --fil_h 3 --fil_w 3 --in_channels 32 "
     "--out_channels 32 "
     "--forw 1", (64, 32, 112, 112)),
    ("convbfp16 -n 16 -c 96 -H 48 -W 32 -k 96 -y 3 -x 1 -p 2 -q 0 -u 1 -v 1 -l 2 -j 2 -g 1 --in_layout NHWC "
     "--fil_layout NHWC --out_layout NHWC -F 1", (16, 48, 32, 96)),
    ("conv -n 1 -c 3 -H 224 -W 224 -k 64 -y 7 -x 7 -u 2 -v 2 -z same", (1, 64, 111, 111)),  # MIOpen: not 112
    ("conv -n 1 -c 3 -H 224 -W 224 -k 64 -y 4 -x 4 -z same", (1, 64, 223, 223)),
    ("conv -n 1 -c 3 -H 224 -W 224 -k 64 -y 4 -x 4 -p 5 -q 5 -z valid", (1, 64, 221, 221)),
    ("conv -n 1 -c 8 -H 7 -W 7 -k 8 -y 3 -x 3 -u 2 -v 2 -p 1 -q 1 -m trans -Y 1 -X 1", (1, 8, 14, 14)),
    ("conv", (100, 32, 30, 30)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "output", "padding"), BENCHDNN, ids=[r[0][:40] for r in BENCHDNN])
def test_benchdnn_descriptors_have_onednns_output_and_paddings(
    text: str, output: tuple[int, ...], padding: tuple[tuple[int, int], ...]
) -> None:
    p = benchdnn.problem(text)
    assert p.case.spec.y_shape[2:] == output == p.stated
    assert p.case.spec.padding == padding
    assert p.case.spec.dtype.name == "float32"  # --dt=f32, benchdnn's default
    assert p.case.bias  # --dir=FWD_B, benchdnn's default
    assert p.arrays == ("y",)


@pytest.mark.parametrize(("text", "output", "padding"), DECONV, ids=[r[0][:40] for r in DECONV])
def test_benchdnn_deconvolutions_are_transposed_convolutions_of_their_i_to_their_o(
    text: str, output: tuple[int, ...], padding: tuple[tuple[int, int], ...]
) -> None:
    p = benchdnn.problem(text, benchdnn.Options(deconv=True))
    assert p.case.spec.transposed
    assert p.case.spec.y_shape[2:] == output
    assert p.case.spec.padding == padding


def test_benchdnns_dilation_is_zero_based_and_its_batch_two() -> None:
    s = benchdnn.problem("ic2ih9oc3kh3dh1").case.spec
    assert (s.dilation, s.x_shape[0], s.y_shape[2:]) == ((2, 2), 2, (5, 5))  # square: w from h


@pytest.mark.parametrize(
    ("text", "message"),
    [("ic16ih7kh3", "oc must be > 0"), ("ic1oc1id5ih5kd1kh1", "needs both h and w"),
     ("ic2oc2ih5", "ih and kh are needed"), ("ic2oc2ih5kh3x", "unrecognized 'x'"),
     ("ic2oc2ih2kh5", "the h output would be -2"), ("ic3oc2g2ih5kh3", "g2 does not divide ic3")],
)  # fmt: skip
def test_a_descriptor_benchdnn_refuses_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        benchdnn.problem(text)


def test_a_batch_file_keeps_its_options_until_reset_and_runs_each_listed_value(tmp_path: Path) -> None:
    (tmp_path / "shapes").write_text('mb1ic2ih5oc3kh3n"a"  # a comment\n')
    (tmp_path / "batch").write_text(
        "--reset --dt=f64 --dir=FWD_D,BWD_D --skip-impl=ref\nmb1ic2ih6oc4kh2\n# mb1ic2ih6oc4kh9\n"
        "--reset --dt=bf16:bf16:f32 --batch=shapes\n--deconv --reset --dir=BWD_WB ic2ih3oc2kh2sh2\n"
    )
    found = formats.problems(tmp_path / "batch")
    assert [(p.case.spec.dtype.name, p.arrays, p.case.bias) for p in found] == [
        ("float64", ("y",), False), ("float64", ("dx",), False), ("float32", ("y",), True),
        ("float32", ("dw", "db"), True),
    ]  # fmt: skip
    assert found[2].case.drawn_in is not None
    assert found[2].case.drawn_in.name == "bfloat16"  # bf16 values, a float32 result
    assert found[2].name == '"a"'
    assert found[3].case.spec.transposed
    assert found[0].notes == ("--skip-impl chooses how the engine runs, not the values: ignored",)
    (tmp_path / "post").write_text("--attr-post-ops=relu mb1ic2ih5oc3kh3\n")
    with pytest.raises(ValueError, match=r"post:1: .*--attr-post-ops=relu adds operations"):
        formats.problems(tmp_path / "post")
    with pytest.raises(ValueError, match="refconv computes x and w in one dtype"):
        formats.problem("--dt=u8:s8:s32 mb1ic2ih5oc3kh3")


@pytest.mark.parametrize(("text", "output"), MIOPEN, ids=[r[0][:40] for r in MIOPEN])
def test_miopen_command_lines_have_miopens_output(text: str, output: tuple[int, ...]) -> None:
    p = formats.problem(text)
    assert p.format == "miopen"
    assert p.case.spec.given_shape("y") == output
    assert p.stated == tuple(p.case.spec.y_shape[2:])


def test_miopens_flags_say_dtype_direction_bias_and_layout() -> None:
    p = miopen.problem("convint8 -n 2 -c 4 -H 5 -W 6 -k 8 -y 3 -x 2 -g 2 -F 6 -b 1 -I NHWC -f NHWC -O NHWC")
    s = p.case.spec
    assert (s.dtype.name, p.case.drawn_in) == ("int32", np.dtype("int8"))  # int8 values, int32 sums
    assert "int8 operands into a int32 result" in p.notes[0]
    assert p.arrays == ("dx", "dw", "db")  # -F 6: backward data and weights, and the bias
    assert p.case.bias
    assert s.dimension_numbers == ("NHWC", "OHWI", "NHWC")
    assert s.given_shape("x") == (2, 5, 6, 4)
    assert s.given_shape("w") == (8, 3, 2, 2)
    with pytest.raises(ValueError, match="convfp8 is a data type refconv does not compute"):
        miopen.problem("convfp8 -n 1")


def test_miopens_clamp_to_one_output_is_stated_beside_the_definitions_zero() -> None:
    p = miopen.problem("conv -n 1 -c 1 -H 2 -W 2 -k 1 -y 3 -x 3")
    assert p.case.spec.y_shape[2:] == (0, 0)
    assert p.stated == (1, 1)
    assert "the tool states the spatial output (1, 1); the definition gives (0, 0)" in p.describe()


def test_check_and_explain_take_a_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--problem=--dir=BWD_D mb2ic4ih9oc6oh4kh2sh2"]) == 0  # '=': it starts with --
    out = capsys.readouterr().out
    assert "the tool's test computes dx" in out
    assert "padding=((0, -1), (0, -1))" in out
    assert main(["check", "--problem", "conv -n 2 -c 4 -H 7 -W 6 -k 6 -y 3 -x 2 -p 1 -u 2", "--no-naive",
                 "--against", "torch"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "dtype=float32" in out
    assert "verdict: all within round-off" in out
    assert main(["check", "--problem", "conv -n 1 -c 2 -H 5", "--dtype", "float64", "--against", "torch",
                 "--json"]) == 0  # fmt: skip
    assert main(["check", "--problem=--dt=u8:s8:s32 mb1ic2ih5oc3kh3"]) == 2
    assert "--problem: " in capsys.readouterr().err


def test_conform_judges_a_file_of_problems_first_and_alone(tmp_path: Path) -> None:
    (tmp_path / "problems").write_text("mb2ic4ih7oc6oh7kh3ph1\n--deconv ic4ih5oc3kh3sh2ph1\n")
    report = refconv.conform.run(
        refconv.backends.get("refconv.naive"), ("float32",), phases=(), isolate=False,
        problems=[p.case for p in formats.problems(tmp_path / "problems")],
    )  # fmt: skip
    assert [p.name for p in report.phases] == ["problems"]
    assert [o.verdict for o in report.outcomes] == ["agree", "agree"]
