"""Tracing -> mask, worked out by hand on small polygons (docs/echonet.md §1).

skimage fills the pixels whose centres lie inside the polygon or on its edge; vertices are
rounded half-to-even first. A tracing is 21 rows: row 0 the long axis (not a vertex), then
20 chords (X1, Y1) -> (X2, Y2). The polygon is X1[1:] then X2[1:] reversed.
"""

import numpy as np
import pytest

from echobeat.data.tracings import disk_volume, polygon, select_rows, tracing_mask


def rectangle_tracing(left, top, right, bottom, axis=(0.0, 0.0, 0.0, 0.0)):
    """21 rows: an axis row, then 10 chords on the top edge and 10 on the bottom edge."""
    rows = [list(axis)]
    rows += [[left, top, right, top]] * 10
    rows += [[left, bottom, right, bottom]] * 10
    return np.array(rows, dtype=float)


def test_polygon_vertex_order():
    coords = np.array(
        [
            [9, 9, 9, 9],  # long axis: dropped
            [1, 2, 5, 2],
            [1, 3, 6, 3],
            [2, 4, 7, 4],
        ],
        dtype=float,
    )
    x, y = polygon(coords)
    assert x.tolist() == [1, 1, 2, 7, 6, 5]
    assert y.tolist() == [2, 3, 4, 4, 3, 2]


def test_rectangle_mask_includes_its_edges():
    mask = tracing_mask(rectangle_tracing(1, 1, 4, 3), (6, 6))
    expected = np.zeros((6, 6), dtype=np.uint8)
    expected[1:4, 1:5] = 1  # rows 1..3, columns 1..4, edges included
    np.testing.assert_array_equal(mask, expected)


def test_half_coordinates_round_to_even():
    # x 1.5 -> 2, x 3.5 -> 4, y 0.5 -> 0, y 2.5 -> 2 (np.rint: half to even).
    mask = tracing_mask(rectangle_tracing(1.5, 0.5, 3.5, 2.5), (6, 6))
    expected = np.zeros((6, 6), dtype=np.uint8)
    expected[0:3, 2:5] = 1
    np.testing.assert_array_equal(mask, expected)
    # 2.5 rounds down to 2 but 2.51 rounds up to 3.
    assert tracing_mask(rectangle_tracing(1, 1, 2.5, 2), (6, 6))[1].tolist() == [0, 1, 1, 0, 0, 0]
    assert tracing_mask(rectangle_tracing(1, 1, 2.51, 2), (6, 6))[1].tolist() == [0, 1, 1, 1, 0, 0]


def test_triangle_mask():
    # Vertices (x, y): (1, 1), (1, 3) on the X1 side; X2 side collapses onto (4, 1).
    coords = np.array([[0, 0, 0, 0]] + [[1, 1, 4, 1]] * 10 + [[1, 3, 4, 1]] * 10, dtype=float)
    mask = tracing_mask(coords, (5, 6))
    # Edge from (4, 1) to (1, 3): at row 2 it passes x = 2.5, so columns 1 and 2 are in.
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 1, 1, 1, 1, 0],
            [0, 1, 1, 0, 0, 0],
            [0, 1, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
        ],
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(mask, expected)


def test_chord_outside_the_frame_is_clipped():
    # Right edge at x = 7.2 (-> 7) in a 5-wide frame, top at y = -1.6 (-> -2).
    mask = tracing_mask(rectangle_tracing(2, -1.6, 7.2, 2), (4, 5))
    expected = np.zeros((4, 5), dtype=np.uint8)
    expected[0:3, 2:5] = 1
    np.testing.assert_array_equal(mask, expected)


def repeated_tracing():
    first = rectangle_tracing(1, 1, 3, 2)
    # The second tracing of the same frame: another rectangle, with its own long axis row.
    second = rectangle_tracing(1, 1, 3, 2, axis=(1, 6, 1, 6))
    return np.concatenate([first, second])


def test_repeated_tracing_first_uses_the_first_21_rows():
    coords = repeated_tracing()
    assert len(select_rows(coords, "first")) == 21
    mask = tracing_mask(select_rows(coords, "first"), (8, 6))
    expected = np.zeros((8, 6), dtype=np.uint8)
    expected[1:3, 1:4] = 1
    np.testing.assert_array_equal(mask, expected)


def test_repeated_tracing_echonet_keeps_the_stray_long_axis_vertex():
    coords = select_rows(repeated_tracing(), "echonet")
    assert len(coords) == 42
    x, y = polygon(coords)
    # Row 21 (the second long axis, at (1, 6)) becomes a vertex on both sides of the polygon.
    assert (x[20], y[20]) == (1, 6)
    assert (x[-21], y[-21]) == (1, 6)
    mask = tracing_mask(coords, (8, 6))
    # Distinct path: (1,1) (1,2) (1,6) (1,1) (1,2) (3,2) (3,1) (1,6) (3,2) (3,1). The edge along
    # x = 1 is traversed down and back up, so it encloses nothing. The edges (3,1)-(1,6) and
    # (1,6)-(3,2) enclose a thin sliver: at row 3 it spans x in [2.2, 2.5] (no pixel centre),
    # at row 4 x in [1.8, 2.0] (column 2), at row 5 x in [1.4, 1.5] (none), and row 6 is the
    # vertex (1, 6) itself.
    expected = np.zeros((8, 6), dtype=np.uint8)
    expected[1:3, 1:4] = 1
    expected[4, 2] = 1
    expected[6, 1] = 1
    np.testing.assert_array_equal(mask, expected)
    assert not np.array_equal(mask, tracing_mask(select_rows(repeated_tracing(), "first"), (8, 6)))


def test_unknown_repeated_mode_is_an_error():
    with pytest.raises(ValueError, match="repeated_tracings"):
        select_rows(repeated_tracing(), "last")


def test_disk_volume_of_a_cylinder():
    # Long axis 10 px; 20 chords of 4 px: a cylinder of radius 2 and height 10.
    coords = np.array([[0, 0, 0, 10]] + [[0, 0, 4, 0]] * 20, dtype=float)
    assert disk_volume(coords) == pytest.approx(np.pi * 2**2 * 10)
    assert disk_volume(coords, cm_per_pixel=0.1) == pytest.approx(np.pi * 2**2 * 10 / 1000)
