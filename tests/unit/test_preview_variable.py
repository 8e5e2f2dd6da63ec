"""Which column a dataset page's map preview colours by."""

from __future__ import annotations

import pytest

from explorer.maps.layer_look import choose_variable
from explorer.geo.joins import DataService
from explorer.services import open_registry
from explorer.settings import Settings


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("preview-home"), data_dir=data_dir, cache_url="null",
                        offline=True)
    return DataService(settings, open_registry(settings), memory_items=8)


def test_a_column_per_month_is_previewed_at_its_latest_month(service):
    loaded = service.load("crime-ward")            # ward totals, one column per month 202403…202603
    months = [c for c in loaded.numeric_columns() if str(c).isdigit()]
    assert len(months) == 25 and min(months) == "202403"
    assert choose_variable(loaded) == max(months) == "202603"
    # the first month of this file is nearly empty: previewing it drew one colour for London
    assert (loaded.frame["202403"] == 0).mean() > 0.9 and (loaded.frame["202603"] > 0).all()


def test_a_mean_is_still_preferred_and_boundaries_stay_plain(service):
    assert choose_variable(service.load("laei-lsoa-2021")) == "NO2-2019-mean"
    assert choose_variable(service.load("london-boroughs")) is None



@pytest.mark.parametrize("dataset, first, latest", [
    ("house-prices-borough", "Year ending Dec 1995", "Year ending Dec 2017"),   # quarters named in words
    ("household-income-lsoa", "HHI_median_2001", "HHI_median_2012"),           # a year inside the name
])
def test_a_period_named_in_words_is_previewed_at_its_latest_period(service, dataset, first, latest):
    loaded = service.load(dataset)
    assert first in loaded.numeric_columns() and latest in loaded.numeric_columns()
    assert choose_variable(loaded) == latest
