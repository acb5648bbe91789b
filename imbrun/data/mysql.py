"""`kind: mysql` — labelled rows from a mysqldump file, a tab-separated export, or a live MySQL/MariaDB server."""

from __future__ import annotations

import pandas as pd

from imbrun.config.data import MysqlData
from imbrun.data.base import LoadedData
from imbrun.data.files import existing_file, source_record
from imbrun.data.table import TableSpec, frame_to_data


def load_mysql(cfg: MysqlData, group_by: str | None = None,
               categories: dict[str, list[str]] | None = None) -> LoadedData:
    """Read the table, then turn it into arrays exactly as the CSV loader does (label, features, one-hot).

    `categories` (a trained run's LoadedData.categories) encodes the categorical columns as that run did.
    """
    frame, source, record = _read(cfg)
    spec = TableSpec(label=cfg.label, features=cfg.features, drop=tuple(cfg.drop), categorical=cfg.categorical,
                     group_column=group_by, channels=cfg.sequence.channels if cfg.sequence else None,
                     layout=cfg.sequence.layout if cfg.sequence else "channel_major")
    data, _ = frame_to_data(frame, spec, source, categories=categories)
    data.sources = [record]
    return data


def _read(cfg: MysqlData) -> tuple[pd.DataFrame, str, dict]:
    """(frame, name for messages, what the run folder records about the source)."""
    if cfg.url is not None:
        from imbrun.data.mysql_live import read_live, redact_url, rows_fingerprint

        frame = read_live(cfg.url, query=cfg.query, table=cfg.table, password_env=cfg.password_env)
        where = redact_url(cfg.url)
        what = cfg.query if cfg.query is not None else f"table {cfg.table}"
        return frame, f"{where} ({what})", {"url": where, "query": cfg.query, "table": cfg.table,
                                            "rows": len(frame), "rows_sha256": rows_fingerprint(frame)}
    path = existing_file(cfg.path)
    if cfg._is_dump():
        from imbrun.data.sqldump import read_dump

        frame = read_dump(path, cfg.table)
        source = f"{path} (table {cfg.table})"
    else:
        from imbrun.data.mysql_tsv import read_tsv_export

        frame = read_tsv_export(path, header=cfg.header, columns=cfg.columns)
        source = str(path)
    return frame, source, {**source_record(path), "table": cfg.table}
