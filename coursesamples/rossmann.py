"""A small synthetic Rossmann dataset in the real Kaggle layout (the seven CSV files).

The real competition data cannot be redistributed, so sample mode trains on data
generated here: 50 stores over 2014-01-01 .. 2015-07-31 (train.csv) and the 48
days after (test.csv, 2015-08-01 .. 09-17, like the real test period). Every
file has the real columns, types, orderings and quirks (dates descending in
train.csv and test.csv; StateHoliday "0"/"a"/"b"/"c"; missing values in
store.csv and weather.csv; a few blank Open values in test.csv; googletrend's
"NI" where the stores say "HB,NI"; some stores with no rows for half of 2014).

How Sales are made (multiplicative, i.e. additive in log space), per store and day:

    log(Sales) = log(level of the store: its type, assortment and a random factor)
               + store's yearly growth * years since 2014-01-01
               + day of week (Monday highest, Saturday lowest, Sunday only for the few stores open)
               + promotion (about +25%, depends on the store type; stronger on Mondays)
               + Promo2 months (+3% in the months of the store's PromoInterval once started)
               + school holiday (+3%)
               + state holidays: closed that day; +8% the day before, +4% two days before, +5% after
               + Christmas: a ramp up through December to +35%; +15% on Dec 24, +8% Dec 27-31;
                 -6% Jan 1-10; a small yearly wave (+-3%); +4% on days 1-3 of a month (pay day)
               + competition: -25% * exp(-distance / 2 km) once the competitor has opened
               + weather: -3% with more than 5 mm of rain, -5% above 27 C, -8% on snow days
               + search trend: +0.5% per point of the state's own (non-seasonal) search interest
               + a 20% decaying boost for two weeks after a refurbishment closure
               + noise: normal with standard deviation 0.07

Stores are closed on Sundays (except two of type b), on state holidays (type b
stores open on "a" holidays, selling 20% less), during three refurbishments and
on rare random days. Customers = Sales / basket size (a store's basket, with noise).

Everything comes from one seeded NumPy generator and is written with fixed
formatting, so the bytes are identical on every run.

See `make_sample` for an example.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2015
N_STORES = 50
N_TEST_STORES = 40
TRAIN_START, TRAIN_END = "2014-01-01", "2015-07-31"
TEST_START, TEST_END = "2015-08-01", "2015-09-17"
NOISE_SD = 0.07

# (abbreviation used by store_states, state name used by weather, googletrend code,
#  share of stores, first day of the 2014 and 2015 summer school holidays)
STATES = [
    ("BE", "Berlin", "BE", 0.08, "2014-07-09", "2015-07-15"),
    ("BW", "BadenWuerttemberg", "BW", 0.09, "2014-07-31", "2015-07-30"),
    ("BY", "Bayern", "BY", 0.16, "2014-07-30", "2015-08-01"),
    ("HB,NI", "Niedersachsen", "NI", 0.07, "2014-07-31", "2015-07-23"),
    ("HE", "Hessen", "HE", 0.10, "2014-07-28", "2015-07-27"),
    ("HH", "Hamburg", "HH", 0.03, "2014-07-10", "2015-07-16"),
    ("NW", "NordrheinWestfalen", "NW", 0.25, "2014-07-07", "2015-06-29"),
    ("RP", "RheinlandPfalz", "RP", 0.04, "2014-07-28", "2015-07-27"),
    ("SH", "SchleswigHolstein", "SH", 0.10, "2014-07-14", "2015-07-20"),
    ("SN", "Sachsen", "SN", 0.03, "2014-07-21", "2015-07-13"),
    ("ST", "SachsenAnhalt", "ST", 0.03, "2014-07-21", "2015-07-13"),
    ("TH", "Thueringen", "TH", 0.02, "2014-07-21", "2015-07-13"),
]
ALL = None  # a holiday kept in every state

# German public holidays of the period: (date, StateHoliday code, states or ALL).
HOLIDAYS = [
    ("2014-01-01", "a", ALL), ("2014-01-06", "a", {"BW", "BY", "ST"}),
    ("2014-04-18", "b", ALL), ("2014-04-21", "b", ALL), ("2014-05-01", "a", ALL),
    ("2014-05-29", "a", ALL), ("2014-06-09", "a", ALL),
    ("2014-06-19", "a", {"BW", "BY", "HE", "NW", "RP"}), ("2014-08-15", "a", {"BY"}),
    ("2014-10-03", "a", ALL),
    ("2014-10-31", "a", {"SN", "ST", "TH"}), ("2014-11-19", "a", {"SN"}),
    ("2014-12-25", "c", ALL), ("2014-12-26", "c", ALL),
    ("2015-01-01", "a", ALL), ("2015-01-06", "a", {"BW", "BY", "ST"}),
    ("2015-04-03", "b", ALL), ("2015-04-06", "b", ALL), ("2015-05-01", "a", ALL),
    ("2015-05-14", "a", ALL), ("2015-05-25", "a", ALL),
    ("2015-06-04", "a", {"BW", "BY", "HE", "NW", "RP"}), ("2015-08-15", "a", {"BY"}),
]
EASTER = {2014: "2014-04-20", 2015: "2015-04-05"}

STORE_TYPES = {"a": 26, "b": 2, "c": 7, "d": 15}  # counts, close to the real shares
TYPE_LEVEL = {"a": 5800.0, "b": 9500.0, "c": 6000.0, "d": 6300.0}
TYPE_PROMO = {"a": 0.25, "b": 0.10, "c": 0.22, "d": 0.30}  # log-space promotion effect
ASSORTMENT_LEVEL = {"a": 1.0, "b": 0.95, "c": 1.08}
DOW_EFFECT = np.log([1.18, 1.04, 0.98, 0.97, 1.03, 0.88, 0.75])  # Monday .. Sunday
PROMO_INTERVALS = ["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"]
INTERVAL_MONTHS = {"Jan,Apr,Jul,Oct": (1, 4, 7, 10), "Feb,May,Aug,Nov": (2, 5, 8, 11),
                   "Mar,Jun,Sept,Dec": (3, 6, 9, 12)}
STORE_COLUMNS = ["Store", "StoreType", "Assortment", "CompetitionDistance", "CompetitionOpenSinceMonth",
                 "CompetitionOpenSinceYear", "Promo2", "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval"]
WEATHER_COLUMNS = [
    "Max_TemperatureC", "Mean_TemperatureC", "Min_TemperatureC", "Dew_PointC", "MeanDew_PointC",
    "Min_DewpointC", "Max_Humidity", "Mean_Humidity", "Min_Humidity", "Max_Sea_Level_PressurehPa",
    "Mean_Sea_Level_PressurehPa", "Min_Sea_Level_PressurehPa", "Max_VisibilityKm",
    "Mean_VisibilityKm", "Min_VisibilitykM", "Max_Wind_SpeedKm_h", "Mean_Wind_SpeedKm_h",
    "Max_Gust_SpeedKm_h", "Precipitationmm", "CloudCover", "Events", "WindDirDegrees"]


# ----------------------------------------------------------------------------- calendar

def _days(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D")


def _state_holidays(dates: pd.DatetimeIndex, state: str) -> np.ndarray:
    """StateHoliday code ("0", "a", "b", "c") of each date in one state."""
    codes = pd.Series("0", index=dates)
    for day, code, states in HOLIDAYS:
        if states is ALL or state in states:
            codes.loc[pd.Timestamp(day)] = code
    return codes.to_numpy()


def _school_holidays(dates: pd.DatetimeIndex, state_row: tuple, offset: int) -> np.ndarray:
    """1 on school holidays of one state: Christmas, Easter, summer (6 weeks) and autumn."""
    _, _, _, _, summer14, summer15 = state_row
    shift = pd.Timedelta(days=offset)
    spans = [("2013-12-21", "2014-01-04"), ("2014-12-22", "2015-01-05")]
    for easter in EASTER.values():
        e = pd.Timestamp(easter) + shift
        spans.append((e - pd.Timedelta(days=8), e + pd.Timedelta(days=6)))
    for start in (summer14, summer15):
        s = pd.Timestamp(start)
        spans.append((s, s + pd.Timedelta(days=41)))
    autumn = pd.Timestamp("2014-10-13") + pd.Timedelta(days=7 * (offset % 3))
    spans.append((autumn, autumn + pd.Timedelta(days=11)))
    flag = np.zeros(len(dates), dtype=np.int64)
    for lo, hi in spans:
        flag |= ((dates >= pd.Timestamp(lo)) & (dates <= pd.Timestamp(hi))).astype(np.int64)
    return flag


def _promo(dates: pd.DatetimeIndex) -> np.ndarray:
    """Chain-wide promotion: Monday to Friday of every other week."""
    weeks = (dates - pd.Timestamp("2013-12-30")).days // 7
    return ((weeks % 2 == 0) & (dates.dayofweek < 5)).astype(np.int64)


# ----------------------------------------------------------------------------- stores

def _make_stores(rng: np.random.Generator) -> pd.DataFrame:
    """store.csv plus the hidden columns the sales model needs (level, basket, state...)."""
    types = np.array([t for t, n in STORE_TYPES.items() for _ in range(n)])
    types = types[rng.permutation(N_STORES)]
    assortment = np.where(rng.random(N_STORES) < 0.46, "c", "a")
    assortment[np.flatnonzero(types == "b")[0]] = "b"  # assortment b exists only in type b stores
    distance = np.round(np.exp(rng.normal(7.6, 1.2, N_STORES)).clip(20, 75860), -1)
    open_year = rng.choice(np.arange(1998, 2016), N_STORES,
                           p=np.linspace(1, 3, 18) / np.linspace(1, 3, 18).sum()).astype(float)
    open_month = rng.integers(1, 13, N_STORES).astype(float)
    unknown_since = rng.random(N_STORES) < 0.32
    open_year[unknown_since], open_month[unknown_since] = np.nan, np.nan
    # A few competitors open during the training period, close enough to matter.
    newcomers = rng.choice(np.flatnonzero(~unknown_since), 5, replace=False)
    open_year[newcomers] = [2014, 2014, 2014, 2015, 2015]
    open_month[newcomers] = [4, 7, 10, 2, 5]
    distance[newcomers] = rng.integers(10, 120, 5) * 10.0
    no_competitor = rng.choice(np.flatnonzero(unknown_since), 2, replace=False)
    distance[no_competitor] = np.nan
    promo2 = (rng.random(N_STORES) < 0.5).astype(np.int64)
    since_week = np.where(promo2 == 1, rng.integers(1, 50, N_STORES), np.nan)
    since_year = np.where(promo2 == 1, rng.integers(2009, 2016, N_STORES), np.nan)
    interval = np.where(promo2 == 1, rng.choice(PROMO_INTERVALS, N_STORES), None)
    shares = np.array([s[3] for s in STATES])
    # Every state gets at least two stores; the rest follow the real shares.
    states = np.concatenate([np.repeat(np.arange(len(STATES)), 2),
                             rng.choice(len(STATES), N_STORES - 2 * len(STATES), p=shares / shares.sum())])
    states = states[rng.permutation(N_STORES)]
    level = (np.array([TYPE_LEVEL[t] for t in types]) * np.array([ASSORTMENT_LEVEL[a] for a in assortment])
             * np.exp(rng.normal(0, 0.3, N_STORES)))
    basket = np.where(types == "b", 5.5, 9.5) * np.exp(rng.normal(0, 0.12, N_STORES))
    return pd.DataFrame({
        "Store": np.arange(1, N_STORES + 1), "StoreType": types, "Assortment": assortment,
        "CompetitionDistance": pd.array(distance, dtype="Int64"),
        "CompetitionOpenSinceMonth": pd.array(open_month, dtype="Int64"),
        "CompetitionOpenSinceYear": pd.array(open_year, dtype="Int64"),
        "Promo2": promo2, "Promo2SinceWeek": pd.array(since_week, dtype="Int64"),
        "Promo2SinceYear": pd.array(since_year, dtype="Int64"), "PromoInterval": interval,
        # hidden: not written to store.csv (see STORE_COLUMNS)
        "state_idx": states, "level": level, "basket": basket,
        "growth": rng.normal(0, 0.06, N_STORES),
        "sunday_open": (types == "b"),
    })


# ----------------------------------------------------------------------------- weather and trends

def _make_weather(rng: np.random.Generator, dates: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    """Daily weather per state: seasonal temperature with persistent anomalies, rain, wind."""
    n = len(dates)
    doy = dates.dayofyear.to_numpy()
    out = {}
    for i, (_, name, *_rest) in enumerate(STATES):
        anomaly = np.zeros(n)
        shocks = rng.normal(0, 2.5, n)
        for t in range(1, n):
            anomaly[t] = 0.8 * anomaly[t - 1] + shocks[t]
        mean_t = 9.5 + 9.5 * np.sin(2 * np.pi * (doy - 110) / 365.25) + rng.normal(0, 1.0) + anomaly
        spread = 3.5 + np.abs(rng.normal(0, 1.5, n))
        wet = rng.random(n) < 0.40 + 0.10 * np.cos(2 * np.pi * doy / 365.25)
        rain = np.where(wet, rng.exponential(3.0, n), 0.0)
        humidity = np.clip(72 + 12 * wet + rng.normal(0, 8, n) - 0.4 * anomaly, 35, 100)
        dew = mean_t - (100 - humidity) / 5 - np.abs(rng.normal(0, 1, n))
        pressure = 1016 + rng.normal(0, 7, n) - 4 * wet
        wind = np.clip(rng.gamma(4, 3.2, n) + 4 * wet, 2, 60)
        fog = (humidity > 93) & (wind < 12)
        snow = wet & (mean_t < 1.5)
        storm = wet & (mean_t > 17) & (rain > 4)
        events = np.array(["-".join(e for e, on in (("Fog", f), ("Rain", w and not s),
                                                    ("Snow", s), ("Thunderstorm", st)) if on)
                           for f, w, s, st in zip(fog, wet & (rain > 0.5), snow, storm)], dtype=object)
        events[events == ""] = None
        visibility = np.where(fog, rng.integers(1, 6, n), np.where(wet, rng.integers(6, 12, n), 10))
        gust = np.where(rng.random(n) < 0.25, wind + rng.integers(15, 35, n), np.nan)
        cloud = np.where(rng.random(n) < 0.06, np.nan,
                         np.clip(np.round(2 + 4 * wet + rng.normal(0, 1.5, n)), 0, 8))
        frame = pd.DataFrame({
            "file": name, "Date": dates.strftime("%Y-%m-%d"),
            "Max_TemperatureC": np.round(mean_t + spread), "Mean_TemperatureC": np.round(mean_t),
            "Min_TemperatureC": np.round(mean_t - spread), "Dew_PointC": np.round(dew + 2),
            "MeanDew_PointC": np.round(dew), "Min_DewpointC": np.round(dew - 2 - rng.integers(0, 3, n)),
            "Max_Humidity": np.round(np.minimum(humidity + 12, 100)), "Mean_Humidity": np.round(humidity),
            "Min_Humidity": np.round(np.maximum(humidity - 25, 10)),
            "Max_Sea_Level_PressurehPa": np.round(pressure + 4), "Mean_Sea_Level_PressurehPa": np.round(pressure),
            "Min_Sea_Level_PressurehPa": np.round(pressure - 4), "Max_VisibilityKm": np.full(n, 31.0),
            "Mean_VisibilityKm": visibility.astype(float), "Min_VisibilitykM": np.maximum(visibility - 4, 0.0),
            "Max_Wind_SpeedKm_h": np.round(wind + 9), "Mean_Wind_SpeedKm_h": np.round(wind),
            "Max_Gust_SpeedKm_h": np.round(gust), "Precipitationmm": rain, "CloudCover": cloud,
            "Events": events, "WindDirDegrees": rng.integers(0, 360, n),
        })
        frame.loc[rng.random(n) < 0.02, "Max_VisibilityKm"] = np.nan  # the real file has gaps
        out[name] = frame
    return out


def _make_trends(rng: np.random.Generator, sundays: pd.DatetimeIndex) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Weekly Google search interest (0-100): a national seasonal curve plus each state's own campaigns.

    Returns the googletrend.csv frame and, per state code, the campaign part that moves sales.
    """
    n = len(sundays)
    doy = sundays.dayofyear.to_numpy()
    # Christmas shopping searches peak in mid-December (day ~350).
    season = 18 * np.exp(-((np.minimum(np.abs(doy - 350), 365 - np.abs(doy - 350))) / 18.0) ** 2)
    national = 58 + season + rng.normal(0, 2.5, n)
    rows, campaigns = [], {}
    week = [f"{s:%Y-%m-%d} - {s + pd.Timedelta(days=6):%Y-%m-%d}" for s in sundays]
    rows.append(pd.DataFrame({"file": "Rossmann_DE", "week": week, "trend": np.round(national).astype(int)}))
    codes = sorted({s[2] for s in STATES} | {"SL"})  # Saarland has searches but no stores
    for code in codes:
        campaign = np.zeros(n)
        shocks = rng.normal(0, 4.0, n)
        for t in range(1, n):
            campaign[t] = 0.7 * campaign[t - 1] + shocks[t]
        factor = rng.uniform(0.8, 1.2)
        trend = np.clip(np.round(national * factor + campaign + rng.normal(0, 1.5, n)), 0, 100)
        rows.append(pd.DataFrame({"file": f"Rossmann_DE_{code}", "week": week, "trend": trend.astype(int)}))
        campaigns[code] = campaign
    return pd.concat(rows, ignore_index=True), campaigns


# ----------------------------------------------------------------------------- sales

def _calendar_effect(dates: pd.DatetimeIndex) -> np.ndarray:
    """Log effect of the season: December ramp, Christmas Eve, the week after, January dip, pay day."""
    month, day = dates.month.to_numpy(), dates.day.to_numpy()
    effect = 0.03 * np.sin(2 * np.pi * (dates.dayofyear.to_numpy() - 80) / 365.25)
    december = (month == 12) & (day <= 23)
    effect += np.where(december, 0.30 * (day / 23.0) ** 2, 0.0)
    effect += np.where((month == 12) & (day == 24), np.log(1.15), 0.0)
    effect += np.where((month == 12) & (day >= 27), np.log(1.08), 0.0)
    effect += np.where((month == 1) & (day <= 10), np.log(0.94), 0.0)
    effect += np.where(day <= 3, np.log(1.04), 0.0)
    return effect


def _holiday_neighbours(codes: np.ndarray) -> np.ndarray:
    """Log effect of shopping around a state holiday: before (stocking up) and after."""
    hol = (codes != "0").astype(float)
    before1, before2, after1 = np.roll(hol, -1), np.roll(hol, -2), np.roll(hol, 1)
    before1[-1:], before2[-2:], after1[:1] = 0, 0, 0
    return (np.log(1.08) * before1 + np.log(1.04) * before2 * (1 - before1)
            + np.log(1.05) * after1 * (1 - hol))


def _opening(rng: np.random.Generator, store, dates: pd.DatetimeIndex, holiday: np.ndarray,
             refurbished: dict[int, str]) -> tuple[np.ndarray, np.ndarray]:
    """One store's Open flags, and the log boost of its reopening after a refurbishment."""
    dow = dates.dayofweek.to_numpy()
    open_ = np.where(dow == 6, store.sunday_open, 1).astype(np.int64)
    open_ = np.where((holiday != "0") & ~((holiday == "a") & (store.StoreType == "b")), 0, open_)
    open_ = np.where(rng.random(len(dates)) < 0.002, 0, open_)
    boost = np.zeros(len(dates))
    if store.Store in refurbished:
        days_since = (dates - pd.Timestamp(refurbished[store.Store])).days.to_numpy()
        closed_for = int(rng.integers(14, 22))
        open_ = np.where((days_since >= 0) & (days_since < closed_for), 0, open_)
        after = days_since - closed_for
        boost = np.where((after >= 0) & (after < 14), 0.2 * np.exp(-after / 5.0), 0.0)
    return open_, boost


def _store_log_sales(store, dates: pd.DatetimeIndex, promo: np.ndarray, holiday: np.ndarray,
                     school: np.ndarray) -> np.ndarray:
    """The store's own part of log(Sales): level, growth, weekday, promotions, holidays, competition."""
    dow = dates.dayofweek.to_numpy()
    years = ((dates - pd.Timestamp(TRAIN_START)).days / 365.25).to_numpy()
    log_sales = (np.log(store.level) + store.growth * years + DOW_EFFECT[dow] + _calendar_effect(dates)
                 + promo * (TYPE_PROMO[store.StoreType] + 0.05 * (dow == 0))
                 + 0.03 * school + _holiday_neighbours(holiday)
                 - np.where(holiday == "a", 0.2, 0.0))  # the type b stores open on such holidays sell less
    if store.PromoInterval is not None:
        started = dates >= pd.Timestamp.fromisocalendar(int(store.Promo2SinceYear), int(store.Promo2SinceWeek), 1)
        log_sales += 0.03 * (started & np.isin(dates.month, INTERVAL_MONTHS[store.PromoInterval]))
    if not pd.isna(store.CompetitionDistance):
        since = (pd.Timestamp(int(store.CompetitionOpenSinceYear), int(store.CompetitionOpenSinceMonth), 1)
                 if not pd.isna(store.CompetitionOpenSinceYear) else pd.Timestamp("1990-01-01"))
        log_sales -= 0.25 * np.exp(-float(store.CompetitionDistance) / 2000.0) * (dates >= since)
    return log_sales


def _outside_log_sales(weather: pd.DataFrame, campaign: np.ndarray) -> np.ndarray:
    """The part of log(Sales) that comes from outside: the state's weather and search campaigns."""
    return (-0.03 * (weather.Precipitationmm.to_numpy() > 5) - 0.05 * (weather.Max_TemperatureC.to_numpy() > 27)
            - 0.08 * weather.Events.fillna("").str.contains("Snow").to_numpy() + 0.005 * campaign)


def _make_days(rng: np.random.Generator, stores: pd.DataFrame, dates: pd.DatetimeIndex,
               weather: dict[str, pd.DataFrame], campaigns: dict[str, np.ndarray],
               sundays: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per store and day over train + test dates, with Sales and Customers."""
    n, promo = len(dates), _promo(dates)
    week_index = np.searchsorted(sundays.to_numpy(), dates.to_numpy(), side="right") - 1
    refurbished = dict(zip(rng.choice(N_STORES, 3, replace=False) + 1, ["2014-03-10", "2014-09-01", "2015-02-16"]))
    calendars = [(_state_holidays(dates, row[0]), _school_holidays(dates, row, offset=i % 5 - 2))
                 for i, row in enumerate(STATES)]
    frames = []
    for store in stores.itertuples(index=False):
        holiday, school = calendars[store.state_idx]
        _, state_name, trend_code, *_ = STATES[store.state_idx]
        open_, boost = _opening(rng, store, dates, holiday, refurbished)
        log_sales = (_store_log_sales(store, dates, promo, holiday, school) + boost
                     + _outside_log_sales(weather[state_name], campaigns[trend_code][week_index])
                     + rng.normal(0, NOISE_SD, n))
        sales = np.where(open_ == 1, np.round(np.exp(log_sales)), 0).astype(np.int64)
        basket = store.basket * np.exp(rng.normal(0, 0.04, n)) * np.where(promo == 1, 0.96, 1.0)
        customers = np.where(open_ == 1, np.round(sales / basket), 0).astype(np.int64)
        frames.append(pd.DataFrame({
            "Store": store.Store, "DayOfWeek": dates.dayofweek + 1, "Date": dates, "Sales": sales,
            "Customers": customers, "Open": open_, "Promo": promo, "StateHoliday": holiday,
            "SchoolHoliday": school}))
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- files

def _train_file(days: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    train = days[days.Date <= pd.Timestamp(TRAIN_END)].copy()
    # Like the real file: a few stores have no rows for the second half of 2014.
    gone = rng.choice(np.arange(1, N_STORES + 1), 4, replace=False)
    hole = train.Store.isin(gone) & (train.Date >= "2014-07-01") & (train.Date <= "2014-12-31")
    train = train[~hole]
    # ... and a handful of days marked open with no sales.
    open_rows = np.flatnonzero(train.Open.to_numpy() == 1)
    zero = rng.choice(open_rows, 3, replace=False)
    train.iloc[zero, train.columns.get_loc("Sales")] = 0
    train.iloc[zero, train.columns.get_loc("Customers")] = 0
    train = train.sort_values(["Date", "Store"], ascending=[False, True])
    return train.assign(Date=train.Date.dt.strftime("%Y-%m-%d"))


def _test_file(days: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    stores = np.sort(rng.choice(np.arange(1, N_STORES + 1), N_TEST_STORES, replace=False))
    test = days[(days.Date >= pd.Timestamp(TEST_START)) & days.Store.isin(stores)]
    test = test.sort_values(["Date", "Store"], ascending=[False, True]).reset_index(drop=True)
    # Like the real file: one store's Open is missing on a few weekdays.
    test["Open"] = test.Open.astype("Int64")
    blank = (test.Store == stores[len(stores) // 2]) & (pd.to_datetime(test.Date).dt.dayofweek < 5)
    test.loc[blank & (rng.random(len(test)) < 0.5), "Open"] = pd.NA
    test.insert(0, "Id", np.arange(1, len(test) + 1))
    return test.drop(columns=["Sales", "Customers"]).assign(Date=test.Date.dt.strftime("%Y-%m-%d"))


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def make_sample(dest: Path) -> None:
    """Write train, test, store, store_states, state_names, googletrend and weather .csv into ``dest``.

    Deterministic: the same bytes on every run. Takes a few seconds.

    Example:
        >>> import tempfile; dest = Path(tempfile.mkdtemp())
        >>> make_sample(dest); sorted(p.name for p in dest.iterdir())[:2]
        ['googletrend.csv', 'state_names.csv']
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    dates = _days(TRAIN_START, TEST_END)
    sundays = pd.date_range(dates[0] - pd.Timedelta(days=(dates[0].dayofweek + 1) % 7), dates[-1], freq="7D")
    stores = _make_stores(rng)
    weather = _make_weather(rng, dates)
    trends, campaigns = _make_trends(rng, sundays)
    days = _make_days(rng, stores, dates, weather, campaigns, sundays)

    _write(_train_file(days, rng), dest / "train.csv")
    _write(_test_file(days, rng), dest / "test.csv")
    _write(stores[STORE_COLUMNS], dest / "store.csv")
    _write(pd.DataFrame({"Store": stores.Store, "State": [STATES[i][0] for i in stores.state_idx]}),
           dest / "store_states.csv")
    _write(pd.DataFrame({"StateName": [s[1] for s in STATES], "State": [s[0] for s in STATES]}),
           dest / "state_names.csv")
    _write(trends, dest / "googletrend.csv")
    frames = [weather[name] for name in sorted(weather)]
    table = pd.concat(frames, ignore_index=True)
    for col in WEATHER_COLUMNS:
        if col == "Precipitationmm":
            table[col] = table[col].map("{:.2f}".format)
        elif col not in ("Events",):
            table[col] = pd.array(table[col], dtype="Int64")
    _write(table, dest / "weather.csv")
