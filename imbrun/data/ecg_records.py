"""Read MIT-BIH records (WFDB signals) and their beat annotations (binary .atr or rdann text dumps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imbrun.errors import ImbrunError

MITDB_URL = "https://physionet.org/content/mitdb/1.0.0/"
TEXT_SUFFIX = "annotations.txt"  # rdann text dump name: <record>annotations.txt (Kaggle MIT-BIH copy)


def _wfdb():
    """The wfdb package, imported late so the rest of imbrun works without it."""
    try:
        import wfdb
    except ImportError:
        raise ImbrunError("the ECG loader needs the 'wfdb' package: pip install wfdb") from None
    return wfdb


def _one_line(err: Exception) -> str:
    """An exception as one short line (wfdb and requests messages can span several)."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def record_files(folder: str | Path, record: str) -> list[Path]:
    """The header and signal files of a record (signal names come from the header)."""
    folder = Path(folder)
    header = folder / f"{record}.hea"
    if not header.is_file():
        raise ImbrunError(
            f"record {record}: missing {header}; put the MIT-BIH files {record}.hea and {record}.dat in {folder} "
            f"(from {MITDB_URL}) or set download: true"
        )
    try:
        names = _wfdb().rdheader(str(folder / record)).file_name or []
    except Exception as err:  # wfdb raises bare ValueError/IndexError on malformed headers
        raise ImbrunError(f"{header}: expected a WFDB header, got an unreadable one ({_one_line(err)})") from None
    paths = [header] + [folder / name for name in dict.fromkeys(names)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ImbrunError(f"record {record}: missing signal file {', '.join(missing)} named in {header}")
    return paths


def read_record(folder: str | Path, record: str, channel: int = 0) -> tuple[np.ndarray, float]:
    """One channel of a record in physical units (mV for MIT-BIH) and its sampling rate.

    Example:
        >>> signal, fs = read_record("mitdb", "100")   # signal (650000,) float64, fs 360.0
    """
    record_files(folder, record)  # clear message for missing files before wfdb sees them
    wfdb = _wfdb()
    n_channels = wfdb.rdheader(str(Path(folder) / record)).n_sig
    if not 0 <= channel < n_channels:
        raise ImbrunError(f"record {record}: expected channel 0..{n_channels - 1}, got {channel}")
    try:
        rec = wfdb.rdrecord(str(Path(folder) / record), channels=[channel])
    except Exception as err:
        reason = _one_line(err)
        raise ImbrunError(f"record {record} in {folder}: expected a readable WFDB record, got ({reason})") from None
    signal = rec.p_signal[:, 0].astype(np.float64)  # (samples,)
    bad = np.isnan(signal)  # WFDB marks invalid samples as NaN; bridge them linearly
    if bad.all():
        raise ImbrunError(f"record {record}: channel {channel} has no valid samples")
    if bad.any():
        signal[bad] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), signal[~bad])
    return signal, float(rec.fs)


def find_annotations(folder: str | Path, record: str, annotations_folder: str | Path | None = None) -> Path:
    """Where a record's annotations are: `<rec>.atr` or `<rec>annotations.txt`.

    Looks in `annotations_folder` first (if given), then `folder`, then `folder/../mitdb_annotations_txt`.
    """
    folder = Path(folder)
    places = [Path(annotations_folder)] if annotations_folder is not None else []
    places += [folder, folder.parent / "mitdb_annotations_txt"]
    candidates = [place / name for place in places for name in (f"{record}.atr", f"{record}{TEXT_SUFFIX}")]
    for path in candidates:
        if path.is_file():
            return path
    raise ImbrunError(
        f"record {record}: no annotations found, expected one of {', '.join(str(c) for c in candidates)}"
    )


def read_annotation_text(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices and symbols from an rdann text dump.

    Layout: a header line `Time   Sample #  Type  Sub Chan  Num<TAB>Aux`, then one row per annotation:
    time, sample, symbol, subtype, channel, num, optional TAB + aux. CRLF line ends are accepted.
    """
    path = Path(path)
    samples, symbols = [], []
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        fields = line.split("\t", 1)[0].split()
        if not fields or (number == 1 and fields[0] == "Time"):
            continue
        # count from the end: the time column may itself contain spaces in some rdann versions
        if len(fields) < 6 or not fields[-5].isdigit():
            raise ImbrunError(
                f"{path} line {number}: expected 'time sample symbol sub chan num', got {line.strip()!r}"
            )
        samples.append(int(fields[-5]))
        symbols.append(fields[-4])
    return np.array(samples, dtype=np.int64), np.array(symbols, dtype=str)


def read_annotation_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices (int64) and symbols (str) from a `.atr` file or a text dump."""
    path = Path(path)
    if path.name.endswith(TEXT_SUFFIX):
        return read_annotation_text(path)
    try:
        ann = _wfdb().rdann(str(path.with_suffix("")), path.suffix.lstrip("."))
    except Exception as err:
        reason = _one_line(err)
        raise ImbrunError(f"{path}: expected a WFDB annotation file, got an unreadable one ({reason})") from None
    return np.asarray(ann.sample, dtype=np.int64), np.array(ann.symbol, dtype=str)


def read_annotations(
    folder: str | Path, record: str, annotations_folder: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All annotations (beats and others) of a record: sample indices (n,), symbols (n,)."""
    return read_annotation_file(find_annotations(folder, record, annotations_folder))


def download_records(folder: str | Path, records: list[str] | None) -> None:
    """Fetch MIT-BIH records (signals + reference .atr) from PhysioNet into folder; None means all 48."""
    folder = Path(folder)
    try:
        _wfdb().dl_database("mitdb", str(folder), records="all" if records is None else list(records))
    except Exception as err:  # requests/HTTP errors of any kind: no network, 404, timeouts
        wanted = "all records" if records is None else f"records {', '.join(records)}"
        raise ImbrunError(
            f"could not download MIT-BIH {wanted} from {MITDB_URL} into {folder}: {_one_line(err)}; "
            f"put <rec>.hea, <rec>.dat, <rec>.atr there"
        ) from None
