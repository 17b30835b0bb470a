"""Supply–demand accessibility: two-step floating catchment area (2SFCA) and its enhanced
form with Gaussian distance decay (E2SFCA).

Step 1: each facility j's supply ratio R_j = S_j / Σ_k w(d_kj)·P_k over demand k within the
catchment. Step 2: each demand point's accessibility A_i = Σ_j w(d_ij)·R_j — supply (seats,
beds) per person. 2SFCA has w = 1 inside the catchment; E2SFCA uses the Gaussian of Dai
(2010), w(d) = (exp(−½(d/d₀)²) − exp(−½)) / (1 − exp(−½)), which is 1 at 0 m and 0 at d₀.
"""

from __future__ import annotations

__all__ = ["two_step_fca", "supply_ratios", "accessibility_of", "gaussian_decay", "PERSONS_PER_HOUSEHOLD",
           "demand_from_households", "population_demand", "supply_demand"]

import numpy as np
import pandas as pd

from gis.errors import InputError

#: Average household size, 7th national census (2020): 2.62 persons.
PERSONS_PER_HOUSEHOLD = 2.62


def gaussian_decay(d, d0: float):
    """Dai's Gaussian weight: 1 at 0 m, 0 at and beyond ``d0``.

    Examples
    --------
    >>> float(gaussian_decay(0.0, 500)), float(gaussian_decay(500.0, 500))
    (1.0, 0.0)
    """
    d = np.asarray(d, dtype=float)
    e = np.exp(-0.5)
    w = (np.exp(-0.5 * (d / d0) ** 2) - e) / (1.0 - e)
    return np.where(d <= d0, w, 0.0)


def demand_from_households(households: pd.Series, persons_per_household: float = PERSONS_PER_HOUSEHOLD) -> pd.Series:
    """Population demand from households (2.62 persons each by default)."""
    if persons_per_household <= 0:
        raise InputError(f"persons_per_household must be positive, got {persons_per_household}")
    return households.fillna(0).astype(float) * persons_per_household


def two_step_fca(pairs: pd.DataFrame, demand: pd.Series, supply: pd.Series, catchment_m: float,
                 decay: str = "none") -> pd.DataFrame:
    """2SFCA / E2SFCA accessibility of each demand point.

    Parameters
    ----------
    pairs : DataFrame
        Columns ``demand_id``, ``supply_id``, ``distance_m`` (walking or straight).
    demand : Series
        Population by demand id.
    supply : Series
        Capacity (seats, beds) by supply id.
    catchment_m : float
        Catchment radius d₀; pairs farther than this do not count.
    decay : {"none", "gaussian"}
        ``none`` is the classic 2SFCA, ``gaussian`` the E2SFCA.

    Returns
    -------
    DataFrame indexed by demand id with ``accessibility`` (supply per person) and
    ``facilities`` (how many lie within the catchment).

    Examples
    --------
    >>> pairs = pd.DataFrame({"demand_id": [1, 2], "supply_id": ["k", "k"], "distance_m": [100, 200]})
    >>> two_step_fca(pairs, pd.Series({1: 100.0, 2: 300.0}), pd.Series({"k": 200.0}), 300).accessibility.tolist()
    [0.5, 0.5]
    """
    for col in ("demand_id", "supply_id", "distance_m"):
        if col not in pairs.columns:
            raise InputError(f"'pairs' needs a '{col}' column")
    if catchment_m <= 0:
        raise InputError(f"catchment_m must be positive, got {catchment_m}")
    if decay not in ("none", "gaussian"):
        raise InputError(f"decay must be 'none' or 'gaussian', got {decay!r}")
    ratio = supply_ratios(pairs, demand, supply, catchment_m, decay)
    return accessibility_of(pairs, ratio, demand.index, catchment_m, decay)


def _weighted(pairs: pd.DataFrame, catchment_m: float, decay: str) -> pd.DataFrame:
    p = pairs[pairs.distance_m <= catchment_m].copy()
    p["w"] = 1.0 if decay == "none" else gaussian_decay(p.distance_m.to_numpy(), catchment_m)
    return p


def supply_ratios(pairs: pd.DataFrame, demand: pd.Series, supply: pd.Series, catchment_m: float,
                  decay: str = "none") -> pd.Series:
    """Step 1: each facility's capacity over the (weighted) demand within its catchment."""
    p = _weighted(pairs, catchment_m, decay)
    weighted_demand = (p.w * p.demand_id.map(demand).fillna(0.0)).groupby(p.supply_id).sum()
    return (supply / weighted_demand).replace([np.inf, -np.inf], np.nan).fillna(0.0)


def accessibility_of(pairs: pd.DataFrame, ratio: pd.Series, index, catchment_m: float,
                     decay: str = "none") -> pd.DataFrame:
    """Step 2: each place's sum of (weighted) supply ratios of the facilities in reach, and how
    many facilities those are. The places need not be the demand of step 1 (renewal areas
    measured within the whole population)."""
    p = _weighted(pairs, catchment_m, decay)
    p["r"] = p.supply_id.map(ratio).fillna(0.0)
    acc = (p.w * p.r).groupby(p.demand_id).sum()
    count = p[p.w > 0].groupby("demand_id").size()
    out = pd.DataFrame(index=pd.Index(index, name="demand_id"))
    out["accessibility"] = acc.reindex(out.index).fillna(0.0)
    out["facilities"] = count.reindex(out.index).fillna(0).astype(int)
    return out


def supply_demand(areas, services, category: str, *, network=None, catchment_m: float | None = None,
                  decay: str = "none", persons_per_household: float = PERSONS_PER_HOUSEHOLD,
                  spacing: float = 25.0, population=None) -> pd.DataFrame:
    """2SFCA/E2SFCA of one category's capacity (seats, beds) for renewal areas' residents.

    Demand (step 1) is everyone living within each facility's catchment: the ``population``
    layer's units (grid cells or compounds, with ``population`` persons or ``households``),
    reached from a point inside each; without one, only the renewal areas' own households ×
    persons per household (``attrs["demand"]`` says which). Each area (step 2) is reached from
    its boundary (straight-line without a network); a facility inside an area is at 0 m.
    ``catchment_m`` defaults to the category's GB 50180-2018 walking distance (1000 m if none).

    Returns per area: ``households``, ``population`` (its own residents), ``accessibility``
    (capacity per person), ``per_1000`` (capacity per 1000 residents) and ``facilities``
    within the catchment.
    """
    from gis.crs import metric_crs

    supply = _supply_with_capacity(areas, services, category)
    if catchment_m is None:
        catchment_m = _standard_catchment(category)
    crs = network.crs if network is not None else metric_crs(areas)
    a = areas.to_crs(crs).reset_index(drop=True)
    s = supply.to_crs(crs).reset_index(drop=True)
    area_pairs = _pairs_to_supply(a.geometry.values, s.geometry.values, network, catchment_m, spacing)
    households = a["households"].fillna(0).astype(float)
    own = demand_from_households(households, persons_per_household)
    capacity = s["capacity"].astype(float)
    if population is None:
        ratio = supply_ratios(area_pairs, own, capacity, catchment_m, decay)
        basis = "the renewal areas' own households only (no population layer)"
        result = accessibility_of(area_pairs, ratio, a.index, catchment_m, decay)
    else:
        people = population_demand(population, persons_per_household)
        cells = population.to_crs(crs).geometry.reset_index(drop=True)
        unit_pairs = _pairs_to_supply(cells.representative_point().values, s.geometry.values, network,
                                      catchment_m, spacing)
        ratio = supply_ratios(unit_pairs, people, capacity, catchment_m, decay)
        result = accessibility_of(area_pairs, ratio, a.index, catchment_m, decay)
        # A resident's accessibility is that of where they live: an area covering population
        # units takes their population-weighted mean (reaching from its whole boundary would
        # credit every resident with every facility near any edge); a smaller area keeps the
        # value measured from its boundary.
        per_unit = accessibility_of(unit_pairs, ratio, people.index, catchment_m, decay).accessibility
        result["accessibility"] = _within_areas(a.geometry.values, cells.values, people, per_unit,
                                                result["accessibility"])
        basis = f"population layer: {people.sum():,.0f} persons in {len(people)} units"
    out = pd.DataFrame({"id": a["id"] if "id" in a else a.index, "name": a.get("name", a.index),
                        "households": households.to_numpy(), "population": own.to_numpy(),
                        "accessibility": result.accessibility.to_numpy().round(5),
                        "per_1000": (result.accessibility * 1000).to_numpy().round(2),
                        "facilities": result.facilities.to_numpy()})
    out.attrs.update(category=category, catchment_m=catchment_m, decay=decay, demand=basis)
    return out


def _supply_with_capacity(areas, services, category: str):
    """The ``category`` facilities of ``services`` with a positive capacity, after checking
    both frames have the columns 2SFCA needs."""
    import geopandas as gpd

    if not isinstance(areas, gpd.GeoDataFrame) or not isinstance(services, gpd.GeoDataFrame):
        raise InputError("'areas' and 'services' should be GeoDataFrames")
    for col, frame, name in (("households", areas, "areas"), ("capacity", services, "services")):
        if col not in frame.columns:
            raise InputError(f"'{name}' needs a '{col}' column")
    supply = services[(services.category == category) & services.capacity.notna() & (services.capacity > 0)]
    if supply.empty:
        raise InputError(f"no {category} with a capacity in the services layer; 2SFCA needs capacities")
    return supply


def _standard_catchment(category: str) -> float:
    """The category's GB 50180-2018 walking distance in metres, 1000 m if it has none."""
    from gis.standards import default_standards

    std = default_standards().get(category)
    return float(std.standard_m) if std and std.standard_m else 1000.0


def _within_areas(areas, cells, people: pd.Series, per_unit: pd.Series, fallback: pd.Series) -> pd.Series:
    """Per area, the mean of ``per_unit`` weighted by the persons of each unit living inside it
    (a unit's persons spread evenly over its polygon); ``fallback`` where none do."""
    import shapely

    ai, ci = shapely.STRtree(cells).query(areas, predicate="intersects")
    cell_area = shapely.area(cells[ci])
    share = np.where(cell_area > 0, shapely.area(shapely.intersection(areas[ai], cells[ci])) / np.maximum(cell_area, 1e-9),
                     1.0)
    weight = share * people.to_numpy()[ci]
    num = np.bincount(ai, weights=weight * per_unit.to_numpy()[ci], minlength=len(areas))
    den = np.bincount(ai, weights=weight, minlength=len(areas))
    out = fallback.to_numpy().astype(float).copy()
    out[den > 0] = num[den > 0] / den[den > 0]
    return pd.Series(out, index=fallback.index)


def population_demand(population, persons_per_household: float = PERSONS_PER_HOUSEHOLD) -> pd.Series:
    """Persons per unit of a population layer: its ``population`` column, else ``households`` ×
    persons per household (positional index)."""
    if "population" in population.columns and population["population"].notna().any():
        people = pd.to_numeric(population["population"], errors="coerce")
        if "households" in population.columns:  # fill the gaps from households where given
            people = people.fillna(demand_from_households(population["households"], persons_per_household))
    elif "households" in population.columns:
        people = demand_from_households(population["households"], persons_per_household)
    else:
        raise InputError("the population layer needs a 'population' (persons) or 'households' column")
    people = people.fillna(0.0).astype(float).reset_index(drop=True)
    if (people < 0).any():
        raise InputError("population counts must not be negative")
    return people


def _pairs_to_supply(geoms, s_geoms, network, catchment_m: float, spacing: float) -> pd.DataFrame:
    """(place, facility, metres) within the catchment: walking from each place's access points
    (a polygon's boundary, a point itself), straight without a network; 0 m for a facility
    inside a polygon."""
    import shapely

    from gis.access import access_points
    from gis.network_pairs import pairs_within

    if network is not None:
        xy, group = access_points(geoms, spacing, network)
        ao, sf, d = pairs_within(network, xy, shapely.get_coordinates(s_geoms), catchment_m)
        ao = group[ao]
    else:
        ao, sf = shapely.STRtree(s_geoms).query(geoms, predicate="dwithin", distance=catchment_m)
        d = shapely.distance(geoms[ao], s_geoms[sf])
    io, isf = shapely.STRtree(s_geoms).query(geoms, predicate="contains")
    pairs = pd.DataFrame({"demand_id": np.concatenate([ao, io]), "supply_id": np.concatenate([sf, isf]),
                          "distance_m": np.concatenate([d, np.zeros(len(io))])})
    return pairs.groupby(["demand_id", "supply_id"], as_index=False).distance_m.min()
