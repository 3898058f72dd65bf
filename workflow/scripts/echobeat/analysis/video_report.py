"""A standalone HTML report of a prediction folder: a summary table, then one section per video.

Each section shows a frame of the converted video, the LV area trace with the detected
end-systoles (ES) and end-diastoles (ED), the EF of every model beat by beat, and the flags.
Images are embedded, so the single file can be mailed or archived. Torch-free.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from echobeat.atomic import atomic_path  # noqa: E402
from echobeat.data.names import avi_name  # noqa: E402

DISCLAIMER = (
    "Research output of a model, not a diagnosis: EF and areas are estimates from one apical "
    "four-chamber view and must be checked by a qualified reader."
)
STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; }
td.text { text-align: left; }
.flag { color: #b00; font-weight: bold; }
section { border-top: 2px solid #888; margin-top: 2em; padding-top: 1em; }
img { vertical-align: top; margin-right: 1em; }
"""


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _frame_png(frame: np.ndarray) -> str:
    figure, axes = plt.subplots(figsize=(2.2, 2.2))
    axes.imshow(frame, cmap="gray", vmin=0, vmax=255)
    axes.set_axis_off()
    return _png(figure)


def _trace_png(trace: pd.DataFrame, ed_frames: list[int], fps: float, title: str) -> str:
    frames, size = trace["Frame"].to_numpy(), trace["Size"].to_numpy()
    seconds = frames / fps if fps > 0 else frames
    figure, axes = plt.subplots(figsize=(7, 2.4))
    axes.plot(seconds, size, color="black", linewidth=1)
    es = trace.loc[trace["ComputerSmall"] == 1, "Frame"].to_numpy()
    for frame in es:
        axes.axvline(frame / fps if fps > 0 else frame, color="tab:red", linewidth=0.8)
    for frame in ed_frames:
        axes.axvline(frame / fps if fps > 0 else frame, color="tab:green", linewidth=0.8, linestyle="--")
    axes.set(xlabel="seconds" if fps > 0 else "frame", ylabel="LV area (pixels)", title=title)
    return _png(figure)


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.1f}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame, text_columns=()) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = "".join(
            f'<td class="text">{_cell(v)}</td>' if c in text_columns else f"<td>{_cell(v)}</td>" for c, v in row.items()
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _models(predictions: pd.DataFrame) -> list[str]:
    return [c[3:-5] for c in predictions.columns if c.startswith("EF_") and c.endswith("_flag")]


def write_report(path: str, predictions_path: str, beats_path: str, sizes_path: str, index_path: str) -> None:
    """report.html of a prediction folder."""
    predictions = pd.read_csv(predictions_path, dtype={"Source": str, "Video": str, "ES_frames": str, "ED_frames": str})
    text = [c for c in predictions.columns if c.endswith("_flag") or c in ("ES_frames", "ED_frames", "reason", "steps")]
    predictions[text] = predictions[text].fillna("")
    beats = pd.read_csv(beats_path, dtype={"Video": str}) if Path(beats_path).stat().st_size > 1 else pd.DataFrame()
    sizes = pd.read_csv(sizes_path, dtype={"Filename": str})
    cache_dir = Path(index_path).parent / "videos"
    models = _models(predictions)
    summary_columns = ["Source", "status", "beats_found", *[f"EF_{m}" for m in models], "FAC", "EF_area_length"]
    summary = predictions.reindex(columns=summary_columns).copy()
    for m in models:
        summary[f"flag {m}"] = predictions[f"EF_{m}_flag"]
    parts = [
        f"<html><head><meta charset='utf-8'><title>EF predictions</title><style>{STYLE}</style></head><body>",
        "<h1>EF predictions, beat by beat</h1>",
        f"<p><b>{html.escape(DISCLAIMER)}</b></p>",
        "<p>EF: the mean over the detected beats of each model's prediction on the clip centred on the "
        "beat's end-systole. FAC: fractional area change of the LV mask, (ED area − ES area) / ED area. "
        "EF area-length: single-plane area-length volumes, V = 8A²/(3πL), of the segmentation's masks.</p>",
        _table(summary, text_columns=("Source", "status", *[f"flag {m}" for m in models])),
    ]
    for row in predictions.itertuples():
        parts.append(f"<section><h2>{html.escape(row.Source)}</h2>")
        if row.status != "ok":
            parts.append(f"<p class='flag'>Not predicted: {html.escape(str(row.reason))}</p></section>")
            continue
        parts.append(
            f"<p>{html.escape(str(row.kind))}, {row.source_width}x{row.source_height} px, "
            f"{row.source_frames} frames at {float(row.source_fps):.1f} fps; {html.escape(str(row.steps))}.</p>"
        )
        trace = sizes[sizes["Filename"] == avi_name(row.Video)].sort_values("Frame")
        array = np.load(cache_dir / f"{row.Video}.npy", mmap_mode="r")
        frame = np.asarray(array[0, array.shape[1] // 2])
        ed = [int(f) for f in str(row.ED_frames).split()] if str(row.ED_frames).strip() else []
        parts.append(f"<img src='data:image/png;base64,{_frame_png(frame)}' alt='frame'>")
        plot = _trace_png(trace, ed, float(row.fps), row.Source)
        parts.append(f"<img src='data:image/png;base64,{plot}' alt='trace'>")
        parts.append("<p>Red: detected end-systoles; green dashed: end-diastoles.</p>")
        flags = [f"{m}: {getattr(row, f'EF_{m}_flag')}" for m in models if getattr(row, f"EF_{m}_flag")]
        if int(getattr(row, "short_video", 0)):
            flags.append("shorter than one clip: padded at the end as the original pads")
        if flags:
            parts.append("<p class='flag'>" + "<br>".join(html.escape(f) for f in flags) + "</p>")
        if not beats.empty:
            mine = beats[beats["Video"] == row.Video]
            if not mine.empty:
                per_beat = mine.pivot_table(index="Frame", columns="model", values="Prediction").reset_index()
                per_beat = per_beat.rename(columns={"Frame": "ES frame"})
                parts.append("<h3>EF per beat</h3>" + _table(per_beat))
        parts.append("</section>")
    parts.append("</body></html>")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(parts), encoding="utf-8")
