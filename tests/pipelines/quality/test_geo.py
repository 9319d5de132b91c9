"""Geospatial rules: distances in metres, plots, bund lines, plot problems, planting density."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipelines.quality.geo import (distance_outside_m, distance_outside_plots_m, haversine_km, lines_outside_m,
                                   outside_by_more_than_accuracy, plot_areas_ha, plot_problems)

SQUARE = shapely.box(77.0, 23.0, 77.2, 23.2)
M_PER_DEG_LAT = 110_760  # at 23 N, approximately


def test_distance_outside_is_zero_inside_and_metres_outside():
    distance = distance_outside_m(np.array([23.1, 23.21, np.nan]), np.array([77.1, 77.1, 77.1]), SQUARE)
    assert distance[0] == 0
    assert distance[1] == pytest.approx(0.01 * M_PER_DEG_LAT, rel=0.01)
    assert np.isnan(distance[2])


def test_outside_by_more_than_its_accuracy():
    lat = np.array([23.2001, 23.2001, 23.2001])  # ~11 m north of the edge
    mask, _ = outside_by_more_than_accuracy(lat, np.full(3, 77.1), pd.Series([5.0, 20.0, np.nan]), SQUARE)
    assert mask.tolist() == [True, False, False]  # blank accuracy counts as 30 m


def test_haversine_one_degree_of_latitude():
    assert haversine_km(23.0, 77.0, 24.0, 77.0) == pytest.approx(111.19, rel=1e-3)


def plots_frame():
    return gpd.GeoDataFrame({"plot_id": ["A", "B", "C", "BOW"]}, geometry=[
        shapely.box(77.0, 23.0, 77.001, 23.001),
        shapely.box(77.0005, 23.0, 77.0015, 23.001),                        # overlaps A by half
        shapely.box(77.01, 23.01, 77.011, 23.011),
        shapely.Polygon([(77.02, 23.02), (77.021, 23.021), (77.021, 23.02), (77.02, 23.021)]),  # self-intersecting
    ], crs="EPSG:4326")


def test_plot_problems_lists_overlaps_and_invalid_geometry():
    problems = plot_problems(plots_frame())
    assert set(problems["problem"]) == {"overlap", "invalid_geometry"}
    overlap = problems[problems["problem"] == "overlap"].iloc[0]
    assert overlap["plot_id"] == "A" and "B" in overlap["detail"]
    area_a = plot_areas_ha(plots_frame())["A"]
    assert overlap["overlap_ha"] == pytest.approx(area_a / 2, rel=0.01)
    assert problems[problems["problem"] == "invalid_geometry"]["plot_id"].tolist() == ["BOW"]


def test_plot_area_in_hectares():
    area = plot_areas_ha(plots_frame())["C"]  # 0.001 deg of longitude (~102.4 m at 23 N) x 0.001 deg of latitude
    assert area == pytest.approx(102.4 * 0.001 * M_PER_DEG_LAT / 10_000, rel=0.02)


def test_tree_distance_to_its_own_plot():
    plots = plots_frame()
    distance, known = distance_outside_plots_m(pd.Series([23.0005, 23.0005, 23.0]), pd.Series([77.0005, 77.0105, 77.0]),
                                               pd.Series(["A", "A", "ZZ"]), plots)
    assert known.tolist() == [True, True, False]
    assert distance[0] == 0 and distance[1] > 900  # inside plot C's area, ~1 km from plot A


def test_bund_line_outside_distance_is_its_worst_vertex():
    lines = pd.Series(["LINESTRING (77.1 23.1, 77.1 23.19)", "LINESTRING (77.1 23.1, 77.1 23.21)", None])
    worst = lines_outside_m(lines, SQUARE)
    assert worst[0] == 0
    assert worst[1] == pytest.approx(0.01 * M_PER_DEG_LAT, rel=0.01)
    assert np.isnan(worst[2])
