"""MIT-BIH heartbeats as fixed-length windows with AAMI labels (the Kaggle preprocessing of Kachuee et al. 2018).

Per record: resample to 125 Hz; R peaks are the reference beat annotations rescaled to 125 Hz; the nominal
beat period T is the median RR interval of the 10-second segment holding the beat (Kachuee's local window;
the record median when that segment has no RR interval); each beat is the window starting at its R peak of
length round(1.2 * T), min-max normalised to [0, 1] on its own, then zero-padded or cut to 187 samples.
A beat near the record end whose window runs past the signal keeps what there is, zero-padded.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from imbrun.data.base import LoadedData
from imbrun.data.ecg_records import download_records, find_annotations, read_annotation_file, read_record, record_files
from imbrun.data.files import source_record
from imbrun.errors import ImbrunError

AAMI_CLASSES = ["N", "S", "V", "F", "Q"]
AAMI = {
    **dict.fromkeys("NLRej", 0),  # N: normal, bundle branch blocks, escapes
    **dict.fromkeys("AaJS", 1),  # S: supraventricular ectopic
    **dict.fromkeys("VE", 2),  # V: ventricular ectopic
    "F": 3,  # F: fusion of ventricular and normal
    **dict.fromkeys("/fQ", 4),  # Q: paced, fusion of paced and normal, unclassifiable
}
# MIT annotation codes that mark no beat (rhythm changes, noise, comments, waves): skipped
NON_BEAT = set("[]!x()ptu`'^|~+sT*D=\"@")
PACED_RECORDS = ["102", "104", "107", "217"]  # AAMI practice leaves these out
ROW_ID_STRIDE = 100_000  # row_id = record number * stride + beat index; a record has < 100k beats


def aami_codes(symbols: np.ndarray, source: str = "annotations") -> tuple[np.ndarray, np.ndarray]:
    """Which annotations are beats (bool mask) and their AAMI class codes; unknown symbols raise."""
    unknown = sorted({str(s) for s in symbols} - set(AAMI) - NON_BEAT)
    if unknown:
        raise ImbrunError(
            f"{source}: expected beat symbols {''.join(AAMI)} or non-beat codes {''.join(sorted(NON_BEAT))}, "
            f"got unknown symbols {unknown}"
        )
    is_beat = np.array([s in AAMI for s in symbols], dtype=bool)
    return is_beat, np.array([AAMI[s] for s in np.asarray(symbols)[is_beat]], dtype=np.int64)


def resample(signal: np.ndarray, fs: float, target_fs: float) -> np.ndarray:
    """Polyphase resampling (with its anti-aliasing filter) from fs to target_fs."""
    ratio = Fraction(target_fs).limit_denominator(1000) / Fraction(fs).limit_denominator(1000)
    if ratio == 1:
        return np.asarray(signal, dtype=np.float64)
    return resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator)


def beat_periods(peaks: np.ndarray, segment: int) -> np.ndarray:
    """Nominal period T of each beat: median RR of the segment (of `segment` samples) holding it.

    An RR interval belongs to a segment when both of its peaks lie in it. Segments without one use the
    median RR of the whole record; a record with a single beat gets NaN (the caller then uses a full window).
    """
    seg = peaks // segment  # (beats,) segment index of each peak
    rr = np.diff(peaks)  # (beats - 1,)
    inside = seg[1:] == seg[:-1]
    fallback = float(np.median(rr)) if len(rr) else np.nan
    periods = np.full(len(peaks), fallback)
    for s in np.unique(seg[1:][inside]):
        periods[seg == s] = np.median(rr[inside & (seg[1:] == s)])
    return periods


def _normalise(window: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a flat window becomes zeros."""
    low, span = window.min(), np.ptp(window)
    return (window - low) / span if span > 0 else np.zeros_like(window)


def build_beats(
    signal: np.ndarray,
    fs: float,
    samples: np.ndarray,
    symbols: np.ndarray,
    *,
    target_fs: float = 125,
    window: int = 187,
    rr_factor: float = 1.2,
    segment_s: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one window per beat annotation of a record.

    Args:
        signal: (samples,) one ECG channel at `fs`.
        samples, symbols: annotation positions (at `fs`) and MIT codes; non-beat codes are skipped.

    Returns:
        beats (n_beats, window) float32 in [0, 1] and their AAMI class codes (n_beats,) int64.

    Example:
        >>> beats, codes = build_beats(signal, 360.0, ann_samples, ann_symbols)   # beats (n, 187)
    """
    is_beat, codes = aami_codes(symbols)
    x = resample(signal, fs, target_fs)  # (samples at target_fs,)
    peaks = np.round(np.asarray(samples)[is_beat] * (target_fs / fs)).astype(np.int64)
    peaks = np.clip(peaks, 0, len(x) - 1)
    periods = beat_periods(peaks, max(1, round(segment_s * target_fs)))
    beats = np.zeros((len(peaks), window), dtype=np.float32)
    for i, (peak, period) in enumerate(zip(peaks, periods)):
        length = window if np.isnan(period) else min(window, max(1, int(round(rr_factor * period))))
        piece = x[peak : peak + length]  # shorter than `length` at the record end
        beats[i, : len(piece)] = _normalise(piece)
    return beats, codes


def _record_number(record: str) -> int:
    """The number a record name starts with ("100", "100s" -> 100), used in row ids."""
    match = re.match(r"\d+", record)
    if match is None:
        raise ImbrunError(f"record {record!r}: expected a name starting with its number (e.g. '100'), got none")
    return int(match.group())


def _resolve_records(folder: Path, records: list[str] | None, drop_paced: bool, download: bool) -> list[str]:
    """The records to read, downloading missing ones if allowed."""
    if download:
        missing = records is None and not any(folder.glob("*.hea"))
        wanted = None if missing else [r for r in (records or []) if not (folder / f"{r}.hea").is_file()]
        if missing or wanted:
            download_records(folder, wanted)
    names = list(records) if records is not None else sorted(p.stem for p in folder.glob("*.hea"))
    if not names:
        raise ImbrunError(
            f"no MIT-BIH records (*.hea) in {folder}; put <rec>.hea and <rec>.dat there or set download: true"
        )
    kept = [r for r in names if not (drop_paced and r in PACED_RECORDS)]
    if not kept:
        raise ImbrunError(f"records: all of {names} are paced records dropped by drop_paced")
    numbers = [_record_number(r) for r in kept]
    if len(set(numbers)) != len(numbers):
        raise ImbrunError(f"records: expected distinct record numbers for row ids, got {kept}")
    return kept


def load_ecg_beats(
    folder: str | Path,
    records: list[str] | None = None,
    *,
    annotations_folder: str | Path | None = None,
    channel: int = 0,
    drop_paced: bool = False,
    download: bool = False,
) -> LoadedData:
    """Heartbeats of MIT-BIH records as X (n, 187, 1) with the 5 AAMI classes.

    Args:
        folder: holds `<rec>.hea` / `<rec>.dat` (and `<rec>.atr`, or text dumps, see find_annotations).
        records: record names (default: every `*.hea` in folder).
        annotations_folder: searched first for `<rec>.atr` / `<rec>annotations.txt`.
        channel: signal channel (0 is MLII in most MIT-BIH records).
        drop_paced: leave out the paced records 102, 104, 107, 217.
        download: fetch missing records from PhysioNet with wfdb.

    Returns:
        LoadedData with groups = record name and row_ids = record number * 100000 + beat index.
    """
    folder = Path(folder)
    xs, ys, ids, groups, sources = [], [], [], [], []
    for record in _resolve_records(folder, records, drop_paced, download):
        signal, fs = read_record(folder, record, channel)
        ann_path = find_annotations(folder, record, annotations_folder)
        samples, symbols = read_annotation_file(ann_path)
        aami_codes(symbols, source=str(ann_path))  # names the file if a symbol is unknown
        if len(samples) and (samples.min() < 0 or samples.max() >= len(signal)):
            raise ImbrunError(
                f"{ann_path}: expected sample indices 0..{len(signal) - 1}, got {samples.min()}..{samples.max()}"
            )
        beats, codes = build_beats(signal, fs, samples, symbols)
        if len(codes) == 0:
            raise ImbrunError(f"{ann_path}: expected beat annotations for record {record}, got none")
        xs.append(beats)
        ys.append(codes)
        ids.append(_record_number(record) * ROW_ID_STRIDE + np.arange(len(codes), dtype=np.int64))
        groups += [record] * len(codes)
        sources += [source_record(p) for p in [*record_files(folder, record), ann_path]]
    return LoadedData(
        X=np.concatenate(xs)[:, :, None],  # (beats, 187 time steps, 1 channel)
        y=np.concatenate(ys),
        class_names=list(AAMI_CLASSES),
        row_ids=np.concatenate(ids),
        groups=np.array(groups),
        sources=sources,
    )
