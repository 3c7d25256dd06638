"""The synthetic Rossmann sample: the real files, columns, formats and quirks; deterministic bytes."""
import numpy as np
import pandas as pd
import pytest


COLUMNS = {
    "train.csv": "Store,DayOfWeek,Date,Sales,Customers,Open,Promo,StateHoliday,SchoolHoliday",
    "test.csv": "Id,Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday",
    "store.csv": "Store,StoreType,Assortment,CompetitionDistance,CompetitionOpenSinceMonth,"
                 "CompetitionOpenSinceYear,Promo2,Promo2SinceWeek,Promo2SinceYear,PromoInterval",
    "store_states.csv": "Store,State",
    "state_names.csv": "StateName,State",
    "googletrend.csv": "file,week,trend",
    "weather.csv": "file,Date,Max_TemperatureC,Mean_TemperatureC,Min_TemperatureC,Dew_PointC,MeanDew_PointC,"
                   "Min_DewpointC,Max_Humidity,Mean_Humidity,Min_Humidity,Max_Sea_Level_PressurehPa,"
                   "Mean_Sea_Level_PressurehPa,Min_Sea_Level_PressurehPa,Max_VisibilityKm,Mean_VisibilityKm,"
                   "Min_VisibilitykM,Max_Wind_SpeedKm_h,Mean_Wind_SpeedKm_h,Max_Gust_SpeedKm_h,"
                   "Precipitationmm,CloudCover,Events,WindDirDegrees",
}


@pytest.fixture
def path(samples):
    return samples("rossmann")  # made once per session (tests/conftest.py)


def _read(path, name, **kw):
    return pd.read_csv(path / name, low_memory=False, **kw)


def test_files_and_columns(path):  # the same bytes every run: tests/test_data_samples.py
    assert sorted(p.name for p in path.iterdir()) == sorted(COLUMNS)
    for name, header in COLUMNS.items():
        assert (path / name).read_text().split("\n", 1)[0] == header, name
    assert sum((path / n).stat().st_size for n in COLUMNS) < 5e6  # small enough to generate on first use


def test_train_like_the_real_file(path):
    train = _read(path, "train.csv", dtype={"StateHoliday": str})
    dates = pd.to_datetime(train.Date)
    assert dates.is_monotonic_decreasing and train.Date.iloc[0] == "2015-07-31"
    assert (dates.max() - dates.min()).days > 500  # about a year and a half
    assert 40 <= train.Store.nunique() <= 60
    assert set(train.StateHoliday) == {"0", "a", "b", "c"}
    assert (train.DayOfWeek == dates.dt.dayofweek + 1).all()  # 1 = Monday .. 7 = Sunday
    assert ((train.Open == 0) <= (train.Sales == 0)).all() and ((train.Open == 0) <= (train.Customers == 0)).all()
    assert train.loc[train.Open == 1, "Sales"].median() > 3000
    assert (train.loc[train.StateHoliday != "0", "Open"] == 0).mean() > 0.8  # closed on most holidays
    assert (train.loc[train.DayOfWeek == 7, "Open"] == 0).mean() > 0.9  # and on Sundays
    assert train.groupby("Store").size().nunique() > 1  # some stores miss rows, as in the real file


def test_test_period_follows_train(path):
    train, test = _read(path, "train.csv"), _read(path, "test.csv", dtype={"StateHoliday": str})
    dates = pd.to_datetime(test.Date)
    assert dates.min() == pd.Timestamp(train.Date.max()) + pd.Timedelta(days=1)
    assert dates.nunique() == 48 and dates.is_monotonic_decreasing
    assert test.Id.tolist() == list(range(1, len(test) + 1))
    assert set(test.Store) <= set(train.Store) and test.Open.isna().sum() > 0
    assert not test.duplicated(["Store", "Date"]).any()


def test_store_table_has_realistic_gaps(path):
    store = _read(path, "store.csv")
    assert store.Store.tolist() == list(range(1, len(store) + 1))
    assert set(store.StoreType) == {"a", "b", "c", "d"} and set(store.Assortment) == {"a", "b", "c"}
    assert 0 < store.CompetitionDistance.isna().sum() < store.CompetitionOpenSinceYear.isna().sum()
    no_promo2 = store.Promo2 == 0
    assert store.loc[no_promo2, ["Promo2SinceWeek", "Promo2SinceYear", "PromoInterval"]].isna().all().all()
    assert store.loc[~no_promo2, "PromoInterval"].isin(["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"]).all()


def test_external_tables_cover_every_store_and_day(path):
    store_states, state_names = _read(path, "store_states.csv"), _read(path, "state_names.csv")
    weather, trend = _read(path, "weather.csv"), _read(path, "googletrend.csv")
    train, test = _read(path, "train.csv"), _read(path, "test.csv")
    assert set(store_states.State) == set(state_names.State) and "HB,NI" in set(store_states.State)
    assert set(weather.file) == set(state_names.StateName)
    days = pd.date_range(train.Date.min(), test.Date.max())
    assert (weather.groupby("file").Date.apply(lambda d: list(pd.to_datetime(d)) == list(days))).all()
    assert weather.Max_Gust_SpeedKm_h.isna().mean() > 0.3 and weather.Events.isna().any()
    assert "Rossmann_DE" in set(trend.file) and "Rossmann_DE_NI" in set(trend.file)  # NI, not HB,NI
    starts = pd.to_datetime(trend.week.str.split(" - ").str[0])
    ends = pd.to_datetime(trend.week.str.split(" - ").str[1])
    assert (starts.dt.dayofweek == 6).all() and ((ends - starts).dt.days == 6).all()
    assert starts.min() <= days[0] and ends.max() >= days[-1]
    assert trend.trend.between(0, 100).all()


def test_sales_follow_the_documented_model(path):
    train = _read(path, "train.csv", dtype={"StateHoliday": str})
    sold = train[(train.Open == 1) & (train.Sales > 0)].copy()
    sold["log"] = np.log(sold.Sales)
    sold["resid"] = sold.log - sold.groupby(["Store", "DayOfWeek"]).log.transform("mean")
    promo_lift = sold.groupby("Promo").resid.mean().diff().iloc[-1]
    assert 0.15 < promo_lift < 0.35  # promotions sell about a quarter more
    by_dow = sold[sold.DayOfWeek < 7].groupby("DayOfWeek").log.mean()
    assert by_dow.idxmax() == 1 and by_dow.idxmin() == 6  # Monday highest, Saturday lowest
    month = pd.to_datetime(sold.Date).dt.month
    assert sold.groupby(month).resid.mean().idxmax() == 12  # Christmas shopping
