"""Write a run folder atomically and exclusively; read one back from anywhere.

Public entry points: :func:`write_run` (one call) and :class:`OutputClaim` (claim the output
before a long solve, commit at the end); :class:`RunFolder` reads a run folder and locates its
inputs by hash.

Writing. Files go into a hidden temporary sibling ``.NAME.<pid>-<host>-<random>.tmp`` created
when the output is claimed; at the end it is renamed onto ``NAME``. Every claim and the final
rename happen under an exclusive lock on the parent folder (``flock``), so of two processes
writing the same name the second exits 3, and default timestamped names get a ``-2``, ``-3`` …
suffix instead. ``force`` replaces only a folder allocopt wrote (a manifest with ``kind`` in the
allowed kinds, or only known file names) that holds none of the protected paths (the run's
inputs, the working folder): the old folder is renamed aside to ``.NAME.old-<pid>-…`` and
deleted after the new one is in place. Temporary and set-aside folders of processes that died
(``kill -9``) are cleaned up by the next write in the same parent once their owner's PID is gone
and they are older than :data:`STALE_AFTER` seconds; a set-aside folder whose name is free again
is restored rather than deleted.

Sealing. A run's ``manifest.json`` is written last, with ``integrity``: the sha256 of every other
file of the folder, of the resolved scenario, and of the manifest itself (without that block),
and with each input's path relative to the run folder (``rel_path``) next to the absolute one.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from allocopt.errors import InputError, OutputError, Problem

Content = pd.DataFrame | str | Mapping[str, Any] | bytes


def default_run_dir(output_dir: Path, scenario_name: str, now: dt.datetime | None = None) -> Path:
    """``<output_dir>/<scenario>-<YYYYmmdd-HHMMSS>``, with a suffix if that exists already."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    cand = output_dir / f"{scenario_name}-{stamp}"
    k = 2
    while cand.exists():
        cand = output_dir / f"{scenario_name}-{stamp}-{k}"
        k += 1
    return cand


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV: UTF-8, LF line ends, no index.

    pandas quotes cells holding the line terminator but not a bare carriage return, which
    spreadsheet programs read as a line break; when any text cell has one, every text cell is
    quoted. The bytes are pandas' ``to_csv``'s; :func:`_csv_bytes` builds the same bytes
    column-wise in Arrow (10x faster on million-row tables) when it can, else pandas writes.
    """
    import pyarrow as pa

    try:
        data = _csv_bytes(df)
    except pa.ArrowException:  # e.g. a text column past Arrow's 2 GiB per array
        data = None
    if data is not None:
        path.write_bytes(data)
        return
    text_cols = [
        c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
    ]
    has_cr = any(df[c].astype(str).str.contains("\r", regex=False).any() for c in text_cols)
    if has_cr:
        df.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    else:
        df.to_csv(path, index=False, lineterminator="\n")


# Python's repr (hence pandas) writes a float in plain notation from 1e-4 up to 1e16; Arrow's
# cast gives the same shortest digits there (without the trailing ".0") up to 1e10, then an
# exponent. Cells outside Arrow's range (and NaN) are formatted by Python, one by one.
_PLAIN_LOW, _PLAIN_HIGH = 1e-4, 1e10
_NEEDS_QUOTES = '[,"\n]'  # csv.QUOTE_MINIMAL with lineterminator "\n"


def _csv_bytes(df: pd.DataFrame) -> bytes | None:
    """``df.to_csv(index=False, lineterminator="\n")`` as bytes, built column-wise in Arrow;
    None when a column is of a kind this does not write exactly as pandas (then pandas writes).

    Each column becomes Arrow text (floats as repr, ints, bools as True/False, text quoted
    where csv.QUOTE_MINIMAL quotes it, missing values empty), the columns are joined by commas
    and the records' bytes are the joined array's data buffer.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(df.columns)
    if len(names) < 2 or df.columns.has_duplicates or not all(isinstance(c, str) for c in names):
        return None  # a one-column table writes a lone blank as "" (csv's rule): pandas does it
    if any("\r" in c for c in names):
        return None
    header = ",".join(_quoted_name(c) for c in names) + "\n"
    if not len(df):
        return header.encode("utf-8")
    cols = []
    for name in names:
        col = _csv_column(df[name], pa, pc)
        if col is None:
            return None
        cols.append(col)
    records = pc.binary_join_element_wise(*cols, ",")
    records = pc.binary_join_element_wise(records, "", "\n").cast(pa.large_string())
    arr = records.combine_chunks() if isinstance(records, pa.ChunkedArray) else records
    _validity, offs, chars = arr.buffers()
    offsets = np.frombuffer(offs, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    body = chars[int(offsets[0]) : int(offsets[-1])].to_pybytes()
    return header.encode("utf-8") + body


def _quoted_name(name: str) -> str:
    if any(ch in name for ch in ',"\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


def _csv_column(s: pd.Series, pa: Any, pc: Any) -> Any | None:
    """One column as a non-null Arrow string array written as pandas writes it, or None."""
    if s.dtype == np.float64:
        v = s.to_numpy()
        text = pc.cast(pa.array(v), pa.string())
        text = pc.if_else(
            pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", "")
        )
        a = np.abs(v)
        with np.errstate(invalid="ignore"):
            plain = (a == 0) | ((a >= _PLAIN_LOW) & (a < _PLAIN_HIGH))
        other = ~plain  # NaN, inf, tiny or huge: Python's repr, NaN empty
        if other.any():
            fill = ["" if x != x else repr(float(x)) for x in v[other]]
            text = pc.replace_with_mask(text, pa.array(other), pa.array(fill, pa.string()))
        return text
    dt = s.dtype
    if isinstance(dt, np.dtype) and dt.kind in "iu" and dt.itemsize == 8:
        return pc.cast(pa.array(s.to_numpy()), pa.string())
    if isinstance(dt, np.dtype) and dt.kind == "b":
        return pa.array(np.where(s.to_numpy(), "True", "False"), pa.string())
    if not isinstance(dt, np.dtype) and not pd.api.types.is_string_dtype(s):
        return None  # pandas extension types (nullable ints, categories, …)
    if dt == np.dtype(object):
        if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            return None
    elif not pd.api.types.is_string_dtype(s):
        return None
    text = pa.array(s, type=pa.string(), from_pandas=True).fill_null("")
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    _validity, offs, chars = text.buffers()
    at = np.frombuffer(offs, dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    data = b"" if chars is None else chars[int(at[0]) : int(at[-1])].to_pybytes()
    if b"\r" in data:
        return None  # pandas' own rule for a carriage return (see write_csv)
    if b"," in data or b'"' in data or b"\n" in data:  # some cell needs quotes: which ones
        need = pc.match_substring_regex(text, _NEEDS_QUOTES)
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(need, quoted, text)
    return text


# --- exclusive, atomic writing -----------------------------------------------------------------

STALE_AFTER = 600.0
"""Seconds after which a dead process's temporary or set-aside folder may be cleaned up."""

LOCK_WAIT = 60.0
"""Seconds to wait for another process's lock on the output's parent folder (held only for a
claim or a rename) before exit 3."""

RUN_KINDS = ("run", "sweep")
"""Folder kinds ``allocopt solve --force`` may replace (``kind`` in the manifest)."""

_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[a-z0-9_]+\.tmp$")
_OLD = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]+$")
_ACTIVE: set[Path] = set()  # temporary folders of this process (removed on interruption)


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _alive(pid: int, host: str) -> bool:
    """Whether the owner of a temporary folder may still run (unknown → True)."""
    if host != _host() or pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:  # Linux: a PID reused by another program is not the writer
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().lower()
    except OSError:
        return True
    return not cmd or b"python" in cmd or b"allocopt" in cmd


@contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """Exclusive lock on a folder (``flock`` on the folder itself; none where unsupported)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: renames onto existing names fail anyway
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(
                        f"cannot lock {parent}: another allocopt process has held it for "
                        f"{LOCK_WAIT:.0f} s (is one suspended?); try again when it is done"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def clean_stale(parent: Path, *, older_than: float = STALE_AFTER) -> list[str]:
    """Remove the temporary folders of dead writers in ``parent``; restore set-aside ones.

    Only folders named by this module are touched, only when their owner's PID is gone (same
    host) and they were last modified more than ``older_than`` seconds ago. Returns what was done.
    Call it under :func:`_locked`.
    """
    done: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return done
    now = time.time()
    for e in entries:
        m = _TMP.match(e.name) or _OLD.match(e.name)
        if m is None or not e.is_dir(follow_symlinks=False):
            continue
        if _alive(int(m["pid"]), m["host"]):
            continue
        try:
            if now - e.stat(follow_symlinks=False).st_mtime < older_than:
                continue
            path = Path(e.path)
            home = parent / m["name"]
            if m.re is _OLD and not os.path.lexists(home):
                path.rename(home)
                done.append(f"restored {home} (set aside by a process that died)")
            else:
                shutil.rmtree(path)
                done.append(f"removed {path} (left by a process that died)")
        except OSError:
            continue
    return done


def _live_writer(parent: Path, name: str) -> tuple[int, Path] | None:
    """PID and temporary folder of a live process writing ``parent/name`` now, if any."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return None
    for e in entries:
        m = _TMP.match(e.name)
        if m and m["name"] == name and _alive(int(m["pid"]), m["host"]):
            return int(m["pid"]), Path(e.path)
    return None


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or lies inside it (both resolved)."""
    return a == b or b in a.parents


def _folder_kind(folder: Path) -> str | None:
    """``kind`` recorded in ``folder/manifest.json`` ("run" for manifests before the field)."""
    try:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict):
        return None
    kind = m.get("kind")
    if isinstance(kind, str):
        return kind
    return "run" if isinstance(m.get("resolved_scenario"), dict) and "inputs" in m else None


def _recorded_files(folder: Path) -> set[str] | None:
    try:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = m["integrity"]["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return set(files) if isinstance(files, dict) else None


def _files_under(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()
    )


def check_replaceable(
    target: Path,
    *,
    kinds: Sequence[str] = RUN_KINDS,
    names: frozenset[str] | None = None,
    protect: Sequence[Path] = (),
    what: str = "run folder",
) -> None:
    """Raise OutputError (exit 3) unless ``--force`` may replace the existing ``target``.

    It may when it is a real folder (not a file or link), holds no protected path and no working
    folder, and was written by allocopt: its manifest's ``kind`` is one of ``kinds`` (and it
    holds no file its manifest does not list), or every file in it has one of ``names``.
    """

    def refuse(why: str) -> OutputError:
        return OutputError(
            f"{target} {why}; --force replaces only a {what} written by allocopt. Nothing was "
            "changed: choose another --out (or move it away yourself)"
        )

    if target.is_symlink():
        raise refuse("is a symbolic link")
    if not target.is_dir():
        raise refuse("is a file, not a folder")
    tres = target.resolve()
    for p in protect:
        if _inside(Path(p).resolve(), tres):
            raise refuse(f"is or contains {p}, an input of this run")
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    if cwd is not None and _inside(cwd, tres):
        raise refuse("is or contains the current working folder")
    kind = _folder_kind(target)
    files = _files_under(target)
    if kind is not None and kind in kinds:
        recorded = _recorded_files(target)
        if recorded is not None:
            extra = [f for f in files if f not in recorded and f != "manifest.json"]
            if extra:
                shown = ", ".join(extra[:5]) + (
                    f" and {len(extra) - 5} more" if len(extra) > 5 else ""
                )
                raise refuse(f"holds files allocopt did not write ({shown})")
        return
    if kind is None and names is not None and all(f in names for f in files):
        return
    if kind is not None:
        raise refuse(f"is an allocopt {kind} folder, not a {what}")
    raise refuse(f"is not a {what} (no manifest.json naming its kind)")


class OutputClaim:
    """An output folder claimed for writing: ``with OutputClaim(target, ...) as c: ... c.commit()``.

    Entering cleans stale temporary folders in the parent, refuses an existing ``target``
    (without ``force``, or when :func:`check_replaceable` refuses it) or one another live
    process is writing, and creates the temporary folder. ``unique`` (default names) picks the
    first free ``NAME``, ``NAME-2``, … instead of refusing. Leaving without :meth:`commit`
    removes the temporary folder.
    """

    def __init__(
        self,
        target: Path,
        *,
        force: bool = False,
        unique: bool = False,
        kinds: Sequence[str] = RUN_KINDS,
        names: frozenset[str] | None = None,
        protect: Sequence[Path] = (),
        what: str = "run folder",
    ) -> None:
        self.target = Path(target)
        self.force = force
        self.unique = unique
        self.kinds = tuple(kinds)
        self.names = names
        self.protect = list(protect)
        self.what = what
        self.tmp: Path | None = None
        self.diagnosis_out: Path | None = None  # where an infeasible run's diagnosis goes
        self.existed: tuple[int, int, int] | None = None
        self.committed = False

    @property
    def replacing(self) -> bool:
        """An existing folder will be replaced (``force`` and it existed when claimed)."""
        return self.existed is not None

    def _check_existing(self, target: Path) -> None:
        if not os.path.lexists(target):
            return
        if not self.force:
            raise OutputError(
                f"{target} exists already; choose another --out or add --force to replace it"
            )
        check_replaceable(
            target, kinds=self.kinds, names=self.names, protect=self.protect, what=self.what
        )

    def __enter__(self) -> OutputClaim:
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the folder {parent}: {exc.strerror}") from None
        if not parent.is_dir():
            raise OutputError(f"cannot write into {parent}: it is not a folder")
        try:
            with _locked(parent):
                clean_stale(parent)
                if self.unique:
                    self.target = self._free(self.target)
                else:
                    writer = _live_writer(parent, self.target.name)
                    if writer is not None:
                        raise OutputError(
                            f"{self.target} is being written by another allocopt process "
                            f"(PID {writer[0]}) right now; wait for it to finish, or choose "
                            f"another --out (its temporary folder is {writer[1]})"
                        )
                    self._check_existing(self.target)
                    self.existed = _identity(self.target)
                self.tmp = Path(
                    tempfile.mkdtemp(
                        prefix=f".{self.target.name}.{os.getpid()}-{_host()}-",
                        suffix=".tmp",
                        dir=parent,
                    )
                )
                _ACTIVE.add(self.tmp)
        except OSError as exc:
            raise OutputError(f"cannot write in {parent}: {exc}") from None
        return self

    def _free(self, target: Path) -> Path:
        base, k, cand = target.name, 2, target
        while os.path.lexists(cand) or _live_writer(cand.parent, cand.name) is not None:
            cand = target.with_name(f"{base}-{k}")
            k += 1
        return cand

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Remove the temporary folder (nothing is written); safe to call twice."""
        if self.tmp is not None and not self.committed:
            shutil.rmtree(self.tmp, ignore_errors=True)
            _ACTIVE.discard(self.tmp)
            self.tmp = None

    def commit(
        self,
        files: Mapping[str, Content],
        *,
        finish: Callable[[Path], None] | None = None,
        kind: str | None = None,
    ) -> Path:
        """Write ``files`` (name → content) and rename the folder onto the target; return it.

        ``finish`` runs on the complete temporary folder before it is sealed (e.g. to render a
        report from the files). A ``manifest.json`` mapping is rewritten last, sealed with
        ``kind`` and the hashes of every other file (see the module docstring).
        """
        if self.tmp is None:
            raise OutputError(f"{self.target}: the output was not claimed or was abandoned")
        tmp = self.tmp
        try:
            manifest = files.get("manifest.json")
            for name, content in files.items():  # the manifest as well, for ``finish``
                _write(tmp / name, content)
            if finish is not None:
                finish(tmp)
            if isinstance(manifest, Mapping):
                sealed = seal(tmp, dict(manifest), self.target, kind=kind)
                _write(tmp / "manifest.json", sealed)
            self._rename_into_place(tmp)
        except OSError as exc:
            self.abandon()
            raise OutputError(f"cannot write {self.target}: {exc}") from None
        except BaseException:
            self.abandon()
            raise
        self.committed = True
        _ACTIVE.discard(tmp)
        return self.target

    def _rename_into_place(self, tmp: Path) -> None:
        parent = self.target.parent
        old: Path | None = None
        with _locked(parent), _signals_held():
            if self.unique and os.path.lexists(self.target):
                self.target = self._free(self.target)
            now = _identity(self.target)
            if now != self.existed:
                raise OutputError(
                    f"{self.target} was "
                    + ("created" if self.existed is None else "replaced or changed")
                    + " by another process while this one was working; it was left as it "
                    "is and this result was not written. Choose another --out"
                )
            if now is not None:
                check_replaceable(
                    self.target,
                    kinds=self.kinds,
                    names=self.names,
                    protect=self.protect,
                    what=self.what,
                )
                tag = f"{os.getpid()}-{_host()}-{secrets.token_hex(4)}"
                old = parent / f".{self.target.name}.old-{tag}"
                self.target.rename(old)
            try:
                tmp.rename(self.target)
            except OSError:
                if old is not None:
                    old.rename(self.target)
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT / SIGTERM while folders are renamed: they arrive after, never in between."""
    import signal
    import threading

    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def abort_all() -> None:
    """Remove every temporary folder this process is writing (on SIGINT / SIGTERM)."""
    for tmp in list(_ACTIVE):
        shutil.rmtree(tmp, ignore_errors=True)
        _ACTIVE.discard(tmp)


def _write(path: Path, content: Content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, pd.DataFrame):
        write_csv(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="\n")
    else:
        path.write_text(
            json.dumps(content, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest(obj: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unsealed(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as its ``integrity.manifest`` digest covers it (JSON round trip, no seal)."""
    m = json.loads(json.dumps(dict(manifest), sort_keys=True, default=str))
    m.pop("integrity", None)
    return m


def seal(
    folder: Path, manifest: dict[str, Any], target: Path, *, kind: str | None = None
) -> dict[str, Any]:
    """The manifest with ``kind``, inputs' ``rel_path`` (from ``target``) and ``integrity``."""
    m = dict(manifest)
    m["kind"] = kind or str(m.get("kind") or "run")
    m["format"] = 2
    inputs = m.get("inputs")
    if isinstance(inputs, dict):
        rel_inputs = {}
        for name, rec in inputs.items():
            rec = dict(rec) if isinstance(rec, dict) else rec
            if isinstance(rec, dict) and rec.get("abs_path"):
                try:
                    rec["rel_path"] = Path(
                        os.path.relpath(rec["abs_path"], target.absolute())
                    ).as_posix()
                except ValueError:  # another drive (Windows)
                    rec["rel_path"] = None
            rel_inputs[name] = rec
        m["inputs"] = rel_inputs
    files = {
        name: sha256_file(folder / name) for name in _files_under(folder) if name != "manifest.json"
    }
    seal_ = {"algorithm": "sha256", "files": files}
    if isinstance(m.get("resolved_scenario"), dict):
        seal_["resolved_scenario"] = digest(m["resolved_scenario"])
    seal_["manifest"] = digest(_unsealed(m))
    m["integrity"] = seal_
    return m


def refuse_inside(out: Path, run_dir: Path, command: str) -> None:
    """OutputError (exit 3) when ``out`` is, contains or lies inside ``run_dir`` (a run folder
    is never modified after it is written)."""
    o, r = Path(out).resolve(), Path(run_dir).resolve()
    if _inside(o, r) or _inside(r, o):
        raise OutputError(
            f"{out} is, contains or lies inside the run folder {run_dir}, which is never "
            f"changed after it is written; write the {command} output into another folder"
        )


def add_files(source: Path, directory: Path) -> list[Path]:
    """Copy the files under ``source`` into ``directory`` (e.g. ``allocopt init --force``);
    OutputError (exit 3), with nothing copied, when any would replace a file (or folder) there
    whose content differs: an identical file is left as it is."""
    files = _files_under(source)
    clash = []
    for rel in files:
        dst = directory / rel
        if os.path.lexists(dst) and not (
            dst.is_file()
            and not dst.is_symlink()
            and dst.read_bytes() == (source / rel).read_bytes()
        ):
            clash.append(rel)
    if clash:
        more = f" and {len(clash) - 5} more" if len(clash) > 5 else ""
        raise OutputError(
            f"{directory} already has {', '.join(clash[:5])}{more} with other content; --force "
            "never replaces your files. Nothing was written: choose another folder"
        )
    out = []
    try:
        for rel in files:
            dst = directory / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                shutil.copyfile(source / rel, dst)
            out.append(dst)
    except OSError as exc:
        raise OutputError(f"cannot write into {directory}: {exc}") from None
    return out


def write_run(
    target: Path,
    files: Mapping[str, Content],
    *,
    force: bool = False,
    finish: Callable[[Path], None] | None = None,
    unique: bool = False,
    kinds: Sequence[str] = RUN_KINDS,
    names: frozenset[str] | None = None,
    protect: Sequence[Path] = (),
    what: str = "run folder",
    kind: str | None = None,
) -> Path:
    """Write ``files`` (relative name → content) as the folder ``target``, atomically and
    exclusively (:class:`OutputClaim` then :meth:`OutputClaim.commit`); return the folder."""
    with OutputClaim(
        target, force=force, unique=unique, kinds=kinds, names=names, protect=protect, what=what
    ) as claim:
        return claim.commit(files, finish=finish, kind=kind)


def read_manifest(run_dir: Path, header: str) -> dict[str, Any]:
    """A run folder's manifest, or InputError (exit 2) under ``header`` saying what is missing."""

    def bad(path: Path, message: str, field_: str = "") -> InputError:
        return InputError(
            Problem(str(path), "", field_, message),
            header=header,
        )

    if not run_dir.is_dir():
        raise bad(run_dir, "no such run folder; give a folder written by `allocopt solve`")
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise bad(path, "file is missing; the run folder is incomplete")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise bad(path, f"cannot be read as JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("resolved_scenario"), dict):
        raise bad(
            path, "is missing; the manifest does not record the scenario", "resolved_scenario"
        )
    return manifest


# --- the tables of a run folder -----------------------------------------------------------------

TEXT_COLUMNS = frozenset(
    {
        "rep_id",
        "team_id",
        "region_id",
        "unit_id",
        "parent_id",
        "product",
        "period",
        "account_id",
        "owner_rep",
        "incumbent_rep",
        "index",
        "group",
    }
)
"""Identifier columns of the run-folder tables: always read as text (rep ``007`` stays ``007``).
Every other column is parsed by pandas (numbers, booleans)."""


def read_frame(path: Path, *, empty_as_na: bool = False) -> pd.DataFrame:
    """A run-folder CSV with the :data:`TEXT_COLUMNS` as text and the others parsed; empty cells
    are ``""`` (``empty_as_na``: NaN). Raises OSError / ValueError as pandas does."""
    return pd.read_csv(
        path,
        dtype=dict.fromkeys(TEXT_COLUMNS, str),
        keep_default_na=False,
        na_values=[""] if empty_as_na else [],
    )


def read_text_frame(path: Path) -> pd.DataFrame:
    """A CSV with every cell as text (empty cells ``""``): the reading of the report, ``track``
    and ``evaluate`` folders and :meth:`RunFolder.table`."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])


def published_plan(folder: Path, label: str = "scenario") -> Any:
    """The published plan a re-plan starts from (:class:`allocopt.data.prepare.PublishedPlan`:
    ``annual.csv``, ``quotas.csv``, ``assignments.csv`` of ``folder``); InputError (exit 2),
    located at ``label``'s ``replan.published``, when one is missing."""
    from allocopt.data.prepare import PublishedPlan

    folder = Path(folder)
    missing = [n for n in PUBLISHED_FILES if not (folder / n).exists()]
    if missing:
        raise InputError(
            Problem(
                label,
                "",
                "replan.published",
                f"{folder} is not a run folder (missing {', '.join(missing)}); give the folder "
                "that `allocopt solve` wrote for the published plan",
            )
        )
    annual, quotas, asg = (read_frame(folder / n) for n in PUBLISHED_FILES)
    return PublishedPlan(folder, annual, quotas, asg)


# --- reading a run folder from anywhere --------------------------------------------------------


@dataclass
class LocatedInput:
    """Where an input of a run is now: ``status`` is "ok" (found, same sha256), "changed" (found,
    another sha256), "missing" or "unrecorded" (the manifest has no hash for it)."""

    name: str
    label: str
    expected: str | None
    path: Path | None
    actual: str | None
    tried: list[Path] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.path is None:
            return "missing"
        if self.expected is None:
            return "unrecorded"
        return "ok" if self.actual == self.expected else "changed"

    def problem(self, manifest: Path) -> Problem:
        """A located problem for a missing or changed input (exit 2 when raised)."""
        exp = f"sha256 {self.expected[:12]}…" if self.expected else "no recorded hash"
        if self.path is None:
            tried = ", ".join(str(p.absolute()) for p in self.tried) or "nowhere recorded"
            msg = (
                f"input {self.name} ({self.label}) was moved or deleted: not found at {tried} "
                f"(expected {exp}); put the file the run used back, or solve again"
            )
        else:
            msg = (
                f"input {self.name} changed since the solve: {self.path} has sha256 "
                f"{str(self.actual)[:12]}…, the run used {exp}; restore that file, or solve again"
            )
        return Problem(str(manifest), "", f"inputs.{self.name}", msg)


def _folder_digest(folder: Path, names: Sequence[str]) -> str:
    """sha256 of a folder's named files (name and hash of each; a missing file counts)."""
    lines = []
    for n in sorted(names):
        p = folder / n
        lines.append(f"{n}\0{sha256_file(p) if p.is_file() else '-'}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


PUBLISHED_FILES = ("annual.csv", "quotas.csv", "assignments.csv")
"""The files of a published plan a re-plan reads (hashed together as input ``published``)."""


def input_record(label: str, path: Path, *, folder: bool = False) -> dict[str, Any]:
    """A manifest ``inputs`` entry: label as written, absolute path, sha256 (``rel_path`` is
    added when the run is sealed)."""
    sha = _folder_digest(path, PUBLISHED_FILES) if folder else sha256_file(path)
    rec: dict[str, Any] = {"path": label, "abs_path": str(path.resolve()), "sha256": sha}
    if folder:
        rec["kind"] = "folder"
    return rec


class RunFolder:
    """A run folder read back: ``RunFolder.open(path)``, then its manifest, tables and inputs.

    Inputs are located relative to the run folder first (``rel_path``), then at their recorded
    absolute path, then relative to the scenario's folder (manifests before format 2), and each
    is checked by sha256.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], header: str) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.header = header

    @classmethod
    def open(cls, path: Path, header: str | None = None, *, sweep: bool = False) -> RunFolder:
        """Read ``path/manifest.json``; InputError (exit 2) under ``header`` when it is missing,
        or when it is a sweep folder (``allocopt sweep``) and ``sweep`` is not set, or the
        diagnosis of an infeasible scenario (manifest status ``infeasible``): verify, explain,
        report, payout, ``--plan`` ... want one plan, and said only that a file of one was
        missing."""
        header = header or f"cannot read the run folder {path}"
        manifest = read_manifest(Path(path), header)
        if manifest.get("kind") == "sweep" and not sweep:
            own = Path(path) / "report.html"
            raise InputError(
                Problem(
                    str(path),
                    "",
                    "",
                    "is a sweep folder (`allocopt sweep`), not the run folder of one plan"
                    + (f" (the sweep's own report is {own})" if own.is_file() else "")
                    + "; give a folder written by `allocopt solve`, or one of the sweep's items "
                    "kept with --keep-runs (runs/item-NNNN in the sweep folder)",
                ),
                header=header,
            )
        if manifest.get("status") == "infeasible":
            diag = Path(path) / "infeasible.txt"
            raise InputError(
                Problem(
                    str(path),
                    "",
                    "",
                    "the plan was infeasible (the rules cannot all hold at once): the folder "
                    "holds its diagnosis, no plan"
                    + (f"; read {diag} (infeasible.json for tools)" if diag.is_file() else "")
                    + ", relax what it names and solve again",
                ),
                header=header,
            )
        return cls(Path(path), manifest, header)

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind") or "run")

    @property
    def sealed(self) -> bool:
        """The manifest records hashes of the run's own files (written by allocopt ≥ format 2)."""
        return isinstance(self.manifest.get("integrity"), dict)

    def _bad(self, path: Path, message: str, field_: str = "", where: str = "") -> InputError:
        return InputError(Problem(str(path), where, field_, message), header=self.header)

    def scenario(self) -> Any:
        """The resolved scenario recorded in the manifest (a validated ``Scenario``)."""
        from allocopt.scenario.schema import Scenario

        try:
            return Scenario.model_validate_json(json.dumps(self.manifest["resolved_scenario"]))
        except ValueError as exc:
            raise self._bad(
                self.manifest_path, f"is not a valid scenario: {exc}", "resolved_scenario"
            ) from None

    def file(self, name: str) -> Path:
        """``path/name``; InputError (exit 2) when it is missing."""
        p = self.path / name
        if not p.is_file():
            raise self._bad(p, "file is missing; the run folder is incomplete")
        return p

    def table(self, name: str) -> pd.DataFrame:
        """A CSV of the run, every cell as text."""
        p = self.file(name)
        try:
            return read_text_frame(p)
        except pd.errors.EmptyDataError:
            raise self._bad(p, "file is empty; the run folder is incomplete") from None
        except (OSError, ValueError) as exc:
            raise self._bad(p, f"cannot be read: {exc}") from None

    def frame(self, name: str, *, empty_as_na: bool = False) -> pd.DataFrame:
        """A CSV of the run with typed columns (:func:`read_frame`)."""
        p = self.file(name)
        try:
            return read_frame(p, empty_as_na=empty_as_na)
        except pd.errors.EmptyDataError:
            raise self._bad(p, "file is empty; the run folder is incomplete") from None
        except (OSError, ValueError) as exc:
            raise self._bad(p, f"cannot be read: {exc}") from None

    def published_plan(self) -> Any:
        """This run as a published plan to re-plan from (:func:`published_plan`)."""
        return published_plan(self.path, str(self.manifest_path))

    def json(self, name: str) -> dict[str, Any]:
        """A JSON object file of the run."""
        p = self.file(name)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self._bad(p, f"cannot be read as JSON: {exc}") from None
        if not isinstance(data, dict):
            raise self._bad(p, "is not a JSON object")
        return data

    # -- inputs --

    def _inputs(self) -> dict[str, Any]:
        inputs = self.manifest.get("inputs")
        return inputs if isinstance(inputs, dict) else {}

    def _candidates(self, rec: dict[str, Any], scenario_dirs: list[Path]) -> list[Path]:
        out: list[Path] = []
        if rec.get("rel_path"):
            out.append(self.path / str(rec["rel_path"]))
        if rec.get("abs_path"):
            out.append(Path(str(rec["abs_path"])))
        label = str(rec.get("path") or "")
        label = re.sub(r"\[[^\]]*\]$", "", label)  # "book.xlsx[reps]" → the workbook
        if label:
            lp = Path(label)
            out.extend([lp] if lp.is_absolute() else [d / lp for d in scenario_dirs])
        seen: set[str] = set()
        uniq = []
        for p in out:
            key = os.path.normpath(str(p.absolute()))
            if key not in seen:
                seen.add(key)
                uniq.append(p)
        return uniq

    def scenario_dirs(self) -> list[Path]:
        """Candidate folders of the scenario file (table paths are relative to it)."""
        rec = self._inputs().get("scenario")
        dirs: list[Path] = []
        if isinstance(rec, dict):
            if rec.get("rel_path"):
                dirs.append((self.path / str(rec["rel_path"])).parent)
            if rec.get("abs_path"):
                dirs.append(Path(str(rec["abs_path"])).parent)
            if rec.get("path"):
                scen = Path(str(rec["path"]))
                dirs.append(scen.parent)  # before format 2: relative to the solve's folder
                out = Path(
                    str(
                        ((self.manifest.get("resolved_scenario") or {}).get("output") or {}).get(
                            "directory", ""
                        )
                    )
                )
                parents = self.path.resolve().parents
                if (
                    not scen.is_absolute()
                    and not out.is_absolute()
                    and len(out.parts) < len(parents)
                ):
                    dirs.append(parents[len(out.parts)])  # default layout <scenario>/<output>/<run>
                dirs += [self.path.parent, self.path.parent.parent]  # e.g. a published plan
        return dirs

    def locate(self, name: str) -> LocatedInput:
        """Find input ``name`` (a table name, ``scenario`` or ``published``) and hash it."""
        rec = self._inputs().get(name)
        if not isinstance(rec, dict):
            rec = {}
        dirs = self.scenario_dirs()
        if not rec and name == "published":
            sc = self.manifest.get("resolved_scenario") or {}
            pub = (sc.get("replan") or {}).get("published")
            rec = {"path": pub, "kind": "folder"} if pub else {}
        folder = rec.get("kind") == "folder"
        expected = rec.get("sha256") if isinstance(rec.get("sha256"), str) else None
        tried = [Path(os.path.normpath(p.absolute())) for p in self._candidates(rec, dirs)]
        found: tuple[Path, str] | None = None
        for p in tried:
            ok = p.is_dir() if folder else p.is_file()
            if not ok:
                continue
            try:
                sha = _folder_digest(p, PUBLISHED_FILES) if folder else sha256_file(p)
            except OSError:
                continue
            if expected is None or sha == expected:
                return LocatedInput(name, str(rec.get("path") or name), expected, p, sha, tried)
            found = found or (p, sha)
        if found is not None:
            return LocatedInput(
                name, str(rec.get("path") or name), expected, found[0], found[1], tried
            )
        return LocatedInput(name, str(rec.get("path") or name), expected, None, None, tried)

    def input_path(self, name: str) -> Path:
        """Path of input ``name``, checked by sha256; InputError (exit 2) if moved or changed."""
        loc = self.locate(name)
        if loc.status in ("missing", "changed"):
            raise InputError(loc.problem(self.manifest_path), header=self.header)
        assert loc.path is not None
        return loc.path

    def data_scenario(self, *, strict: bool = True) -> tuple[Any, list[LocatedInput]]:
        """The resolved scenario with every table (and a re-plan's published folder) pointing at
        its located file, and the located inputs. ``strict``: a changed input is an InputError
        too (a missing one always is)."""
        from allocopt.scenario.schema import TableRef

        sc = self.scenario()
        located: list[LocatedInput] = []
        problems: list[Problem] = []
        data_update: dict[str, Any] = {}
        for name in type(sc.data).model_fields:
            ref = getattr(sc.data, name)
            if ref is None:
                continue
            loc = self.locate(name)
            located.append(loc)
            if loc.status == "missing" or (strict and loc.status == "changed"):
                problems.append(loc.problem(self.manifest_path))
                continue
            assert loc.path is not None
            path = str(loc.path.resolve())
            data_update[name] = (
                ref.model_copy(update={"path": path}) if isinstance(ref, TableRef) else path
            )
        update: dict[str, Any] = {"data": sc.data.model_copy(update=data_update)}
        if sc.replan is not None:
            loc = self.locate("published")
            located.append(loc)
            if loc.status == "missing" or (strict and loc.status == "changed"):
                problems.append(loc.problem(self.manifest_path))
            elif loc.path is not None:
                update["replan"] = sc.replan.model_copy(
                    update={"published": str(loc.path.resolve())}
                )
        if problems:
            raise InputError(problems, header=self.header)
        return sc.model_copy(update=update), located

    def load_data(self, *, strict: bool = True) -> Any:
        """The run's input tables (a ``Dataset``), located and checked as by
        :meth:`data_scenario`."""
        from allocopt.data.checks import load_data

        sc, _ = self.data_scenario(strict=strict)
        return load_data(sc, self.path)

    # -- integrity --

    def integrity(self) -> list[str]:
        """What was edited since the run was written: one line per file whose sha256 differs,
        is missing or was added, and for an edited resolved scenario or manifest. Empty when
        intact; :meth:`notes` says when the manifest predates the hashes."""
        seal_ = self.manifest.get("integrity")
        if not isinstance(seal_, dict):
            return []
        out: list[str] = []
        recorded = seal_.get("files")
        files: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        for name, sha in sorted(files.items()):
            p = self.path / name
            if not p.is_file():
                out.append(f"{name}: missing (recorded sha256 {str(sha)[:12]}…)")
                continue
            now = sha256_file(p)
            if now != sha:
                out.append(
                    f"{name}: edited after the run was written (sha256 {now[:12]}… now, "
                    f"{str(sha)[:12]}… recorded)"
                )
        for name in _files_under(self.path):
            if name != "manifest.json" and name not in files:
                out.append(f"{name}: added after the run was written (not in the manifest)")
        rs = seal_.get("resolved_scenario")
        if rs is not None and digest(self.manifest.get("resolved_scenario")) != rs:
            out.append(
                "manifest.json: resolved_scenario edited after the run was written (its sha256 "
                "differs from the recorded one)"
            )
        if (
            seal_.get("manifest") is not None
            and digest(_unsealed(self.manifest)) != seal_["manifest"]
        ):
            out.append("manifest.json: edited after the run was written (its sha256 differs)")
        return out

    def notes(self) -> list[str]:
        """Remarks for the reader (e.g. a manifest written before output hashes existed)."""
        if self.sealed:
            return []
        return [
            f"{self.manifest_path}: written before run folders recorded their own hashes; edits "
            "to its files cannot be detected (solve again to get a sealed run folder)"
        ]
