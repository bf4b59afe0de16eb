"""tg.datasets: the built-in curves, the synthetic heights, the CSV loaders and their errors."""
import math

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import datasets


# --- built-in curves ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["heart", "spiral", "lissajous"])
def test_curve_shapes_parameter_and_box(name):
    t, xy = datasets.curve(name, 50)
    assert t.shape == (50, 1) and xy.shape == (50, 2)
    np.testing.assert_allclose(t[:, 0], np.arange(50) / 49, rtol=0, atol=1e-15)
    assert xy.min() >= 0.1 - 1e-12 and xy.max() <= 0.9 + 1e-12
    # The longer side spans the whole box [0.1, 0.9]; the shorter one is centred on 0.5.
    spans = xy.max(axis=0) - xy.min(axis=0)
    assert spans.max() == pytest.approx(0.8, abs=1e-12)
    short = int(np.argmin(spans))
    assert (xy[:, short].max() + xy[:, short].min()) / 2 == pytest.approx(0.5, abs=1e-12)


def test_curves_are_selectable_and_distinct():
    assert set(datasets.CURVES) == {"heart", "spiral", "lissajous"}
    drawn = [datasets.curve(name, 40)[1] for name in datasets.CURVES]
    for i in range(len(drawn)):
        for j in range(i + 1, len(drawn)):
            assert np.abs(drawn[i] - drawn[j]).max() > 0.1


def test_heart_matches_its_formula():
    # x = 16 sin^3(2 pi t), y = 13 cos - 5 cos 2 - 2 cos 3 - cos 4, then the sampled points'
    # bounding box is scaled (one factor for both axes) into [0.1, 0.9] and centred on 0.5.
    t, xy = datasets.curve("heart", 9)
    theta = 2 * np.pi * t[:, 0]
    x = 16 * np.sin(theta) ** 3
    y = 13 * np.cos(theta) - 5 * np.cos(2 * theta) - 2 * np.cos(3 * theta) - np.cos(4 * theta)
    scale = 0.8 / max(np.ptp(x), np.ptp(y))
    np.testing.assert_allclose(xy[:, 0], (x - (x.max() + x.min()) / 2) * scale + 0.5, atol=1e-12)
    np.testing.assert_allclose(xy[:, 1], (y - (y.max() + y.min()) / 2) * scale + 0.5, atol=1e-12)
    assert xy[0, 0] == pytest.approx(0.5, abs=1e-12)  # t = 0 is the notch on the axis
    np.testing.assert_allclose(xy[0], xy[-1], atol=1e-12)  # closed


def test_lissajous_is_closed_and_spiral_is_not():
    _, liss = datasets.curve("lissajous", 64)
    np.testing.assert_allclose(liss[0], liss[-1], atol=1e-12)
    _, spiral = datasets.curve("spiral", 64)
    assert np.linalg.norm(spiral[0] - spiral[-1]) > 0.3


def test_curve_rejects_unknown_names_and_bad_sizes():
    with pytest.raises(ValueError, match="unknown curve 'star'.*heart, spiral, lissajous"):
        datasets.curve("star")
    for n in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="n must be an integer"):
            datasets.curve("heart", n)


def test_normalize_curve_by_hand():
    # extent 4 (x), scale 0.8 / 4 = 0.2, centre (2, 1) -> 0.5.
    out = datasets.normalize_curve(np.array([[0.0, 0.0], [4.0, 2.0], [2.0, 1.0]]))
    np.testing.assert_allclose(out, [[0.1, 0.3], [0.9, 0.7], [0.5, 0.5]], atol=1e-15)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        datasets.normalize_curve(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="all points are the same"):
        datasets.normalize_curve(np.ones((3, 2)))


# --- curve CSV ----------------------------------------------------------------------------------
def _write(tmp_path, text, name="data.csv", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_load_curve_csv_xy_with_header_comments_and_blank_lines(tmp_path):
    path = _write(tmp_path, "# my curve\nx,y\n0,0\n\n4, 2\n2,1\n")
    t, xy = datasets.load_curve_csv(path)
    np.testing.assert_allclose(t[:, 0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(xy, [[0.1, 0.3], [0.9, 0.7], [0.5, 0.5]], atol=1e-15)


def test_load_curve_csv_txy_rescales_t(tmp_path):
    path = _write(tmp_path, "t,x,y\n10,0,0\n30,4,2\n20,2,1\n")
    t, xy = datasets.load_curve_csv(path)
    np.testing.assert_allclose(t[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(xy[1], [0.9, 0.7])


def test_load_curve_csv_roundtrip_of_a_builtin_curve(tmp_path):
    t, xy = datasets.curve("spiral", 30)
    path = tmp_path / "spiral.csv"
    np.savetxt(path, np.column_stack([t, xy]), delimiter=",", header="t,x,y", comments="")
    t2, xy2 = datasets.load_curve_csv(path)
    np.testing.assert_allclose(t2, t, atol=1e-15)
    np.testing.assert_allclose(xy2, xy, atol=1e-12)


@pytest.mark.parametrize("text, line, reason", [
    ("x,y\n0,0\n1,oops\n", 3, "column 2 is 'oops', not a number"),
    ("0,0\n1,1\n2,2,2\n", 3, "expected 2 columns like line 1, got 3"),
    ("# c\n0,0,0,0\n1,1,1,1\n", 2, "expected 2 columns .x,y. or 3 columns .t,x,y., got 4"),
    ("0,0\n1,nan\n", 2, "column 2 is 'nan'; curve points must be finite"),
    ("0,0\n1,inf\n", 2, "column 2 is 'inf'; curve points must be finite"),
    ("x,y\n0,0\nx,y\n", 3, "column 1 is 'x', not a number"),
    ("0;0\n1;1\n", 1, "column 1 is '0;0', not a number .separate the columns with commas."),
])
def test_malformed_curve_csv_names_file_line_and_reason(tmp_path, text, line, reason):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=f"data.csv, line {line}: {reason}"):
        datasets.load_curve_csv(path)


@pytest.mark.parametrize("text, reason", [
    ("", "at least 2 points, found 0 data rows"),
    ("x,y\n1,2\n", "at least 2 points, found 1 data row$"),
    ("1,2\n1,2\n1,2\n", "all points are the same"),
    ("5,0,0\n5,1,1\n", "every t value is 5; t must vary"),
])
def test_curve_csv_without_a_usable_curve(tmp_path, text, reason):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=f"data.csv: .*{reason}"):
        datasets.load_curve_csv(path)


def test_binary_or_missing_curve_file(tmp_path):
    path = _write(tmp_path, b"\x89PNG\r\n\x1a\n\xff\xfe", mode="wb")
    with pytest.raises(ValueError, match="data.csv: not a text .UTF-8. CSV file"):
        datasets.load_curve_csv(path)
    with pytest.raises(FileNotFoundError):
        datasets.load_curve_csv(tmp_path / "missing.csv")


# --- heights ------------------------------------------------------------------------------------
def test_heights_are_reproducible_with_the_stated_seed():
    a = datasets.heights()
    b = datasets.heights(seed=datasets.HEIGHTS_SEED)
    assert a.shape == (10_000,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, datasets.heights(seed=datasets.HEIGHTS_SEED + 1))


def test_heights_follow_the_stated_source_parameters():
    sample = datasets.heights(20_000)
    women, men = datasets.HEIGHTS_SOURCE["women"], datasets.HEIGHTS_SOURCE["men"]
    # An equal mixture: mean of the means; variance = mean variance + variance of the means.
    mean = (women["mean"] + men["mean"]) / 2
    sd = math.sqrt((women["sd"] ** 2 + men["sd"] ** 2) / 2 + ((men["mean"] - women["mean"]) / 2)
                   ** 2)
    assert sample.mean() == pytest.approx(mean, abs=4 * sd / math.sqrt(len(sample)))
    assert sample.std() == pytest.approx(sd, rel=0.03)
    assert 120 < sample.min() and sample.max() < 230
    with pytest.raises(ValueError, match="n must be an integer"):
        datasets.heights(1)


def test_load_heights_csv(tmp_path):
    path = _write(tmp_path, "height_cm\n170.5\n# a comment\n\n158\n181.25\n")
    np.testing.assert_array_equal(datasets.load_heights_csv(path), [170.5, 158.0, 181.25])


@pytest.mark.parametrize("text, line, reason", [
    ("h\n170\n165,3\n", 3, "expected one height per row, got 2 columns"),
    ("170\n-165\n", 2, "height -165.0 is not positive"),
    ("170\n0\n", 2, "height 0.0 is not positive"),
    ("170\n16O\n", 2, "column 1 is '16O', not a number"),
    ("170\n\n\nnan\n", 4, "column 1 is 'nan'; heights must be finite"),
])
def test_malformed_heights_csv_names_file_line_and_reason(tmp_path, text, line, reason):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=f"data.csv, line {line}: {reason}"):
        datasets.load_heights_csv(path)


def test_heights_csv_needs_two_values(tmp_path):
    with pytest.raises(ValueError, match="data.csv: need at least 2 heights.*found 1"):
        datasets.load_heights_csv(_write(tmp_path, "height\n170\n"))


def test_datasets_is_part_of_the_package():
    assert tg.datasets is datasets
