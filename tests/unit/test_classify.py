"""Class breaks (quantiles, equal intervals, Fisher–Jenks, fixed thresholds) and palettes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from explorer.maps.classify import (
    METHODS, Classification, Threshold, class_colours, classify, detect_pollutant, format_number,
    thresholds_for,
)
from explorer.maps.palettes import NO_DATA_COLOUR, PALETTES, palette_colours, relative_luminance


def recount(values, breaks) -> list[int]:
    """Class sizes by the legend's rule, counted the slow way: v <= breaks[i] is class i."""
    counts = [0] * (len(breaks) + 1)
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        i = 0
        while i < len(breaks) and v > breaks[i]:
            i += 1
        counts[i] += 1
    return counts


def significant_digits(x: float) -> int:
    digits = f"{abs(x):.12g}".replace(".", "").lstrip("0").rstrip("0")
    return max(1, len(digits))


# ------------------------------------------------------------------------------------------------
def test_quantiles_balance_the_classes():
    values = list(range(1, 101))
    result = classify(values, "quantile", 5)
    assert result.k == 5
    assert result.counts == [20, 20, 20, 20, 20]
    assert result.breaks == [20, 40, 60, 80]
    assert result.labels == ["≤ 20", "20 – 40", "40 – 60", "60 – 80", "> 80"]
    assert (result.min, result.max, result.no_data) == (1, 100, 0)


def test_quantiles_of_skewed_data_stay_balanced_with_round_breaks():
    rng = np.random.default_rng(7)
    values = rng.lognormal(3, 0.4, 4000)
    result = classify(values, "quantile", 6)
    assert result.k == 6
    assert max(result.counts) - min(result.counts) <= 0.05 * len(values)
    assert all(significant_digits(b) <= 4 for b in result.breaks)


def test_equal_intervals_have_equal_widths():
    result = classify([0, 3, 10, 47, 52, 99, 100], "equal", 5)
    assert result.breaks == [20, 40, 60, 80]
    assert result.counts == recount([0, 3, 10, 47, 52, 99, 100], result.breaks)
    odd = classify(np.linspace(3.7, 97.1, 200), "equal", 4)
    edges = [odd.min, *odd.breaks, odd.max]
    widths = np.diff(edges)
    assert widths.max() - widths.min() <= 1.0          # rounded to a tenth of the width or finer


def test_jenks_finds_the_gaps_between_three_clusters():
    rng = np.random.default_rng(1)
    clusters = [rng.normal(10, 1, 120), rng.normal(50, 1, 80), rng.normal(90, 1, 40)]
    values = np.concatenate(clusters)
    rng.shuffle(values)
    result = classify(values, "jenks", 3)
    assert result.k == 3
    assert result.counts == [120, 80, 40]
    low, high = result.breaks
    assert clusters[0].max() < low < clusters[1].min()
    assert clusters[1].max() < high < clusters[2].min()


def _sum_of_squares(values, breaks):
    values = np.asarray(values, dtype=float)
    classes = np.searchsorted(np.asarray(breaks, dtype=float), values, side="left")
    return sum(((values[classes == c] - values[classes == c].mean()) ** 2).sum()
               for c in np.unique(classes))


def test_jenks_is_optimal_on_small_arrays():
    """Against brute force: no other split into k classes has a smaller within-class spread."""
    rng = np.random.default_rng(3)
    for _ in range(25):
        values = np.round(rng.gamma(2.0, 3.0, 11), 1)
        k = int(rng.integers(2, 5))
        distinct = np.unique(values)
        if len(distinct) < k + 1:
            continue
        best = min(_sum_of_squares(values, [distinct[c - 1] for c in cuts])
                   for cuts in itertools.combinations(range(1, len(distinct)), k - 1))
        result = classify(values, "jenks", k)
        assert result.counts == recount(values, result.breaks)
        assert _sum_of_squares(values, result.breaks) <= best + 1e-9


def test_jenks_on_thousands_of_values_is_close_to_the_optimum():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(20, 3, 2500), rng.normal(40, 4, 2000), rng.normal(70, 5, 500)])
    result = classify(values, "jenks", 3)
    assert result.k == 3
    # Three populations: the breaks fall between their centres.
    assert 20 < result.breaks[0] < 40 < result.breaks[1] < 70
    quantile = classify(values, "quantile", 3)
    assert _sum_of_squares(values, result.breaks) < _sum_of_squares(values, quantile.breaks)


def test_fixed_thresholds_for_no2_carry_their_meaning():
    thresholds = thresholds_for("NO2-2019-mean", pollutant="NO2", unit="µg/m³")
    assert [(t.value, t.label) for t in thresholds] == [
        (10, "WHO 2021 guideline"), (20, "WHO interim target 3"), (30, "WHO interim target 2"),
        (40, "UK annual objective")]
    result = classify([8, 12, 35, 41, 60, None], "thresholds", thresholds=thresholds)
    assert result.breaks == [10, 20, 30, 40]
    assert result.counts == [1, 1, 0, 1, 2]
    assert result.no_data == 1
    assert result.labels[0] == "≤ 10 (WHO 2021 guideline)" and result.labels[-1] == "> 40 (above UK annual objective)"


def test_pm25_thresholds_include_who_and_the_uk_2040_target():
    thresholds = thresholds_for("PM25-2019-mean", pollutant="PM25", unit="µg/m³")
    values = {t.value: t.label for t in thresholds}
    assert values[5] == "WHO 2021 guideline" and values[10] == "UK 2040 target"
    # Thresholds beyond the data's range stay, so the legend still says what they mean.
    result = classify([6.1, 7.5, 8.2, 9.9], "thresholds", thresholds=thresholds)
    assert result.breaks[:2] == [5, 10]
    assert result.counts[0] == 0 and sum(result.counts) == 4
    assert "UK 2040 target" in result.labels[1]


def test_pollutants_are_recognised_from_names_options_and_filters():
    assert detect_pollutant("NO2-2019-mean") == "NO2"
    assert detect_pollutant("NOx-2019-mean") == "NOx"
    assert detect_pollutant("PM10d-2019-mean") == "PM10d"
    assert detect_pollutant("London Mean Roadside:PM2.5 Particulate (ug/m3)") == "PM2.5"
    assert detect_pollutant("Mean_PM10") == "PM10"
    assert detect_pollutant("PM10 mean", "no2") == "PM10"        # the first text that names one wins
    assert detect_pollutant("mean", None, "capture rate") is None
    assert thresholds_for("mean", pollutant="no2")[0].value == 10  # a filter value is enough
    assert [t.value for t in thresholds_for("PM10-2019-mean", unit="µg/m³")] == [15, 40]
    assert [t.value for t in thresholds_for("NOx-2019-mean")] == [30]
    assert [t.value for t in thresholds_for("PM10d-2019-mean", unit="days")] == [35]
    # No thresholds for the wrong unit, a spread statistic, or a variable that is no pollutant.
    assert thresholds_for("NO2", unit="ppb") == []
    assert thresholds_for("NO2-2019-std", unit="µg/m³") == []
    assert thresholds_for("Persons_All-Ages", unit="people") == []


def test_thresholds_method_without_thresholds_says_why():
    with pytest.raises(ValueError, match="thresholds"):
        classify([1, 2, 3], "thresholds", thresholds=[])


def test_no_data_is_excluded_and_counted():
    result = classify([1.0, None, float("nan"), 2.0, 3.0, "n/a", 4.0], "quantile", 2)
    assert result.no_data == 3
    assert sum(result.counts) == 4
    assert result.class_of(None) is None and result.class_of(float("nan")) is None
    empty = classify([None, None], "quantile", 5)
    assert empty.k == 0 and empty.no_data == 2 and empty.labels == []
    assert math.isnan(empty.min) and empty.to_dict()["min"] is None


def test_k_is_clamped_and_nonsense_is_refused():
    values = list(range(100))
    assert classify(values, "quantile", 1).k == 2
    assert classify(values, "quantile", 40).k == 9
    assert classify(values, "equal", "4").k == 4
    with pytest.raises(ValueError, match="k"):
        classify(values, "quantile", "lots")
    with pytest.raises(ValueError, match="k"):
        classify(values, "quantile", 2.5)
    with pytest.raises(ValueError, match="'natural'"):
        classify(values, "natural", 5)


def test_few_distinct_values_give_fewer_classes():
    result = classify([1, 1, 1, 1, 2, 2, 3], "quantile", 5)
    assert result.k == len(result.breaks) + 1 <= 3
    assert all(c > 0 for c in result.counts)
    single = classify([7, 7, 7], "jenks", 5)
    assert single.k == 1 and single.breaks == [] and single.labels == ["7"]
    assert class_colours(single, "blues") and len(class_colours(single, "blues")) == 1


@pytest.mark.parametrize("method", ["quantile", "equal", "jenks"])
def test_breaks_are_rounded_and_classify_exactly_as_the_legend_reads(method):
    rng = np.random.default_rng(11)
    values = list(rng.lognormal(3.2, 0.35, 3000)) + [None] * 5
    result = classify(values, method, 7)
    assert result.breaks == sorted(set(result.breaks))
    assert all(result.min <= b < result.max for b in result.breaks)
    assert all(significant_digits(b) <= 4 for b in result.breaks)
    assert result.counts == recount(values, result.breaks)
    assert len(result.labels) == result.k == len(result.counts)
    for i, b in enumerate(result.breaks):
        assert format_number(b) in result.labels[i] and format_number(b) in result.labels[i + 1]
        assert result.class_of(b) == i and result.class_of(b + 1e-9 * max(1, abs(b))) == i + 1


def test_large_numbers_are_shown_with_separators():
    rng = np.random.default_rng(2)
    result = classify(rng.integers(150_000, 1_400_000, 500), "quantile", 4)
    assert all("," in label for label in result.labels)
    assert format_number(1234567.0) == "1,234,567" and format_number(24.7) == "24.7"


def test_methods_are_named_for_the_ui():
    assert set(METHODS) == {"quantile", "equal", "jenks", "thresholds"}
    assert isinstance(classify([1, 2, 3, 4], "equal", 2), Classification)
    assert Threshold(40, "UK annual objective").value == 40


# ------------------------------------------------------------------------------------------------
# Palettes
def test_palettes_give_n_colours_light_to_dark():
    for name, palette in PALETTES.items():
        for n in (3, 5, 7, 9):
            colours = palette_colours(name, n)
            assert len(colours) == n, name
            assert all(len(c) == 7 and c.startswith("#") for c in colours), name
            if palette.kind != "categorical":
                assert len(set(colours)) == n, name
            if palette.kind == "sequential" and name != "aq":
                lum = [relative_luminance(c) for c in colours]
                assert all(a > b for a, b in zip(lum, lum[1:])), f"{name} not light → dark: {colours}"


def test_required_palettes_and_their_flags():
    assert {"blues", "viridis", "cividis", "magma", "inferno", "gla", "rdbu", "aq"} <= set(PALETTES)
    assert palette_colours("blues", 5)[-1] == "#00577d"            # the GLA brand blue
    assert palette_colours("gla", 5)[-1] == "#00577d"
    assert PALETTES["aq"].cvd_safe is False
    assert all(PALETTES[n].cvd_safe for n in ("blues", "viridis", "cividis", "magma", "gla", "rdbu"))
    assert PALETTES["rdbu"].kind == "diverging"
    # Ends are the palette's ends; the middle of a diverging scale is its neutral.
    assert palette_colours("viridis", 2) == [PALETTES["viridis"].colours[0], PALETTES["viridis"].colours[-1]]
    assert palette_colours("rdbu", 3)[1] == "#f7f7f7"
    assert NO_DATA_COLOUR not in palette_colours("blues", 9)


def test_unknown_palette_and_bad_counts_are_refused():
    with pytest.raises(ValueError, match="'rainbow'"):
        palette_colours("rainbow", 5)
    with pytest.raises(ValueError, match="blues"):
        palette_colours("blues", -1)
    assert palette_colours("blues", 0) == []
    assert len(palette_colours("okabe-ito", 10)) == 10                   # categorical repeats


def test_class_colours_follow_the_classification():
    result = classify(list(range(50)), "quantile", 6)
    colours = class_colours(result, "cividis")
    assert colours == palette_colours("cividis", result.k)
    with pytest.raises(ValueError, match="nope"):
        class_colours(result, "nope")


def test_layer_style_is_one_rule_for_every_map():
    from explorer.maps.classify import OUTLINE_COLOUR, layer_style

    assert layer_style("polygons", None, "quantile", 5, "blues", None) == (
        {"mode": "outline", "line": OUTLINE_COLOUR}, None)
    assert layer_style("points", None, "quantile", 5, "greens", None)[0]["mode"] == "single"
    no2, result = layer_style("polygons", "NO2-2019-mean", "thresholds", 5, "blues", [8, 20, 30, 45, None],
                              unit="µg/m³")
    assert no2["breaks"] == [10, 20, 30, 40] and "UK annual objective" in no2["method_label"]
    assert no2["no_data"] == 1 and result.k == 5 and len(no2["colours"]) == 5
    # the palette by kind of data ("auto"): air pollution warm, points their own, fills by theme
    from explorer.maps.palettes import palette_colours
    warm, _ = layer_style("polygons", "NO2-2019-mean", "quantile", 5, "auto", [8, 20, 30, 45, 50])
    assert warm["colours"] == palette_colours("warm", 5)
    dots, _ = layer_style("points", "count", "quantile", 5, "auto", [1, 2, 3, 4, 5], themes=["air-quality"])
    assert dots["colours"] == palette_colours("rdpu", 5)
    parks, _ = layer_style("polygons", "area", "quantile", 5, "auto", [1, 2, 3, 4, 5],
                           themes=["green-infrastructure"])
    deprived, _ = layer_style("polygons", "score", "quantile", 5, "auto", [1, 2, 3, 4, 5], themes=["deprivation"])
    assert parks["colours"] == palette_colours("greens", 5) and deprived["colours"] == palette_colours("purples", 5)
    assert len({tuple(s["colours"]) for s in (warm, dots, parks, deprived)}) == 4
    # no thresholds are known for a count: quantiles instead, said in the legend
    counts, _ = layer_style("polygons", "population", "thresholds", 4, "blues", list(range(100)))
    assert counts["method_label"] == METHODS["quantile"] and len(counts["colours"]) == 4
