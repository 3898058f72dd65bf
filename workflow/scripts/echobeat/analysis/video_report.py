"""A standalone HTML report of a prediction folder: a summary table, then one section per video.

Each section shows a frame of the converted video, the LV area trace with the detected
end-systoles (ES) and end-diastoles (ED), the EF of every model beat by beat, and the flags.
Images are embedded, so the single file can be mailed or archived. Torch-free.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from echobeat.data.names import avi_name  # noqa: E402

DISCLAIMER = (
    "Research output of a model, not a diagnosis: EF and areas are estimates from one apical "
    "four-chamber view and must be checked by a qualified reader."
)
# Wide tables scroll inside their box and long text wraps, so that no table runs off the page.
STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1100px; }
div.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; }
td.text { text-align: left; max-width: 28em; overflow-wrap: anywhere; }
.flag { color: #b00; font-weight: bold; }
section { border-top: 2px solid #888; margin-top: 2em; padding-top: 1em; }
img { vertical-align: top; margin-right: 1em; max-width: 100%; }
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


def cell(value) -> str:
    """A table cell's text: empty for a missing value, integers as integers, other numbers to 0.1."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return html.escape(str(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.1f}"
    return html.escape(str(value))


def table_html(frame: pd.DataFrame, text_columns=()) -> str:
    """An HTML table of ``frame``, in a box that scrolls sideways when the table is wider than the page."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    # itertuples keeps each column's type (iterrows would turn a row of ints and floats into floats).
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(
            f'<td class="text">{cell(v)}</td>' if c in text_columns else f"<td>{cell(v)}</td>"
            for c, v in zip(frame.columns, values, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def models(predictions: pd.DataFrame) -> list[str]:
    """The EF models of a predictions table (each has an ``EF_<model>_flag`` column)."""
    return [c[3:-5] for c in predictions.columns if c.startswith("EF_") and c.endswith("_flag")]


def summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """The report's first table: one row per file, with the reason of each file that failed."""
    names = models(predictions)
    failed = (predictions["status"] != "ok").any()
    columns = ["Source", "status", *(["reason"] if failed else []), "beats_found", *[f"EF_{m}" for m in names]]
    table = predictions.reindex(columns=[*columns, "FAC", "EF_area_length"]).copy()
    for m in names:
        table[f"flag {m}"] = predictions[f"EF_{m}_flag"]
    return table


def render(predictions: pd.DataFrame, beats: pd.DataFrame, sizes: pd.DataFrame, cache) -> str:
    """report.html of a prediction folder: ``predictions`` typed as
    :func:`echobeat.analysis.external.read_inputs` types it, ``beats`` and ``sizes`` as written,
    ``cache`` the converted videos (:class:`echobeat.data.cache.VideoCache`)."""
    names = models(predictions)
    parts = [
        f"<html><head><meta charset='utf-8'><title>EF predictions</title><style>{STYLE}</style></head><body>",
        "<h1>EF predictions, beat by beat</h1>",
        f"<p><b>{html.escape(DISCLAIMER)}</b></p>",
        "<p>EF: the mean over the detected beats of each model's prediction on the clip centred on the "
        "beat's end-systole. FAC: fractional area change of the LV mask, (ED area − ES area) / ED area. "
        "EF area-length: single-plane area-length volumes, V = 8A²/(3πL), of the segmentation's masks.</p>",
        table_html(summary(predictions), text_columns=("Source", "status", "reason", *[f"flag {m}" for m in names])),
    ]
    for row in predictions.itertuples():
        parts.append(f"<section><h2>{html.escape(row.Source)}</h2>")
        if row.status != "ok":
            parts.append(f"<p class='flag'>Not predicted: {html.escape(row.reason)}</p></section>")
            continue
        parts.append(
            f"<p>{html.escape(row.kind)}, {cell(row.source_width)}x{cell(row.source_height)} px, "
            f"{cell(row.source_frames)} frames at {float(row.source_fps):.1f} fps; {html.escape(row.steps)}.</p>"
        )
        trace = sizes[sizes["Filename"] == avi_name(row.Video)].sort_values("Frame")
        video = cache.video(row.Video)
        frame = np.asarray(video[0, video.shape[1] // 2])
        ed = [int(f) for f in row.ED_frames.split()]
        parts.append(f"<img src='data:image/png;base64,{_frame_png(frame)}' alt='frame'>")
        plot = _trace_png(trace, ed, float(row.fps), row.Source)
        parts.append(f"<img src='data:image/png;base64,{plot}' alt='trace'>")
        parts.append("<p>Red: detected end-systoles; green dashed: end-diastoles.</p>")
        flags = [f"{m}: {getattr(row, f'EF_{m}_flag')}" for m in names if getattr(row, f"EF_{m}_flag")]
        if int(row.short_video):
            flags.append("shorter than one clip: padded at the end as the original pads")
        if flags:
            parts.append("<p class='flag'>" + "<br>".join(html.escape(f) for f in flags) + "</p>")
        mine = beats[beats["Video"] == row.Video]
        if not mine.empty:
            per_beat = mine.pivot_table(index="Frame", columns="model", values="Prediction").reset_index()
            per_beat = per_beat.rename(columns={"Frame": "ES frame"}).rename_axis(columns=None)
            parts.append("<h3>EF per beat</h3>" + table_html(per_beat))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
