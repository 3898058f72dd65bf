"""Beat-by-beat measurements of the left ventricle from its per-frame masks. Needs no label.

End-systoles (ES) are the detected minima of the LV area (:mod:`echobeat.inference.beats`). A
beat runs from one ES to the next; its end-diastole (ED) is the frame of largest area strictly
between them, and it ends at the second ES. Per beat:

- fractional area change, FAC = (A_ED - A_ES) / A_ED;
- the single-plane area-length volume V = 8 A^2 / (3 pi L) at ED and at ES, with A the mask's
  area and L its long axis, taken as the mask's largest Feret diameter (the longest chord of the
  cavity, apex to the middle of the mitral annulus in an apical four-chamber view), and the EF
  it gives, (V_ED - V_ES) / V_ED. Areas and lengths are in pixels of the 112x112 frame; the units
  cancel in FAC and EF.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from skimage.measure import label, regionprops

from echobeat.data.filelist import ejection_fraction

BEAT_COLUMNS = ["beat", "ED", "ES", "ED_area", "ES_area", "FAC", "ED_length", "ES_length", "EF_area_length"]


def end_diastoles(size: np.ndarray, es: np.ndarray) -> list[tuple[int, int]]:
    """(ED, ES) frame pairs: each beat's largest area strictly between consecutive ES, and the later ES."""
    size = np.asarray(size)
    pairs = []
    for first, second in zip(es[:-1], es[1:], strict=True):
        if second - first < 2:
            continue
        pairs.append((int(first + 1 + np.argmax(size[first + 1 : second])), int(second)))
    return pairs


def long_axis(mask: np.ndarray) -> float:
    """The largest Feret diameter (pixels) of the mask's largest connected region; 0 for an empty mask."""
    regions = regionprops(label(np.asarray(mask, dtype=bool)))
    if not regions:
        return 0.0
    return float(max(regions, key=lambda r: r.area).feret_diameter_max)


def area_length_volume(area: float, length: float) -> float:
    """V = 8 A^2 / (3 pi L), the single-plane area-length volume (NaN without a long axis)."""
    return 8.0 * area**2 / (3.0 * math.pi * length) if length > 0 else math.nan


def beat_measurements(size: np.ndarray, es: np.ndarray, masks: np.ndarray) -> pd.DataFrame:
    """One row per complete beat (two consecutive ES with an ED between): BEAT_COLUMNS."""
    rows = []
    for beat, (ed_frame, es_frame) in enumerate(end_diastoles(size, np.asarray(es, dtype=np.int64))):
        ed_area, es_area = float(size[ed_frame]), float(size[es_frame])
        ed_length, es_length = long_axis(masks[ed_frame]), long_axis(masks[es_frame])
        edv, esv = area_length_volume(ed_area, ed_length), area_length_volume(es_area, es_length)
        rows.append(
            {
                "beat": beat,
                "ED": ed_frame,
                "ES": es_frame,
                "ED_area": ed_area,
                "ES_area": es_area,
                "FAC": 100.0 * (ed_area - es_area) / ed_area if ed_area > 0 else math.nan,
                "ED_length": ed_length,
                "ES_length": es_length,
                "EF_area_length": ejection_fraction(edv, esv) if edv > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=BEAT_COLUMNS)
