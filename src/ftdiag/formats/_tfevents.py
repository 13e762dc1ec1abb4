"""TensorBoard event files, read record by record, every point.

An event file (``events.out.tfevents.<time>.<host>...``) is a TFRecord file:
each record is ``uint64 length, uint32 masked CRC-32C of the length, the
bytes of one Event protobuf, uint32 masked CRC-32C of those bytes``. Scalars
are Summary values either as ``simple_value`` (TF1, PyTorch's SummaryWriter,
tensorboardX) or, since TF2, as a rank-0 numeric tensor whose summary
metadata names the ``scalars`` plugin (written with the first value of a tag
only).

Unlike TensorBoard's own loader (``EventAccumulator``, and tbparse on top of
it), which keeps a reservoir sample of 10,000 points per tag by default,
every point is kept. The Event message definitions come from the
``tensorboard`` package (the optional extra ``ftdiag[tensorboard]``), imported
only here, when an event file is read; the records are framed by hand.

CRC-32C checks use ``google-crc32c`` (C; part of the extra). Set
``FTDIAG_TB_VERIFY_CRC=0`` to skip them (faster on huge files; a corrupt
record then fails to parse instead). A truncated last record (a run still
being written) or a record that fails its check ends the reading of that file
with a warning; everything before it is kept.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError

EXTRA = "tensorboard"
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
_NUMERIC_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2", 14: "bfloat16"}
_NOT_SCALARS = {"text", "hparams", "histograms", "images", "audio", "pr_curves", "mesh", "graph_keras_model", "custom_scalars"}


def _protos() -> tuple[Any, Any]:
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
    except ImportError:
        raise MissingDependencyError("tensorboard", EXTRA, "reading TensorBoard event files") from None
    return event_pb2, summary_pb2


def _crc_function() -> Any:
    if os.environ.get("FTDIAG_TB_VERIFY_CRC", "1").strip().lower() in ("0", "no", "false", "off"):
        return None
    try:
        import google_crc32c
    except ImportError:
        return None
    if getattr(google_crc32c, "implementation", "c") != "c":
        return None  # the pure-Python fallback would be slower than parsing: skip the checks
    return google_crc32c.value


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def is_event_file_name(name: str) -> bool:
    return "tfevents" in name


def looks_like_event_file(head: bytes) -> bool:
    """The first record of an event file holds an Event with ``file_version``
    ``brain.Event:N``."""
    if len(head) < 12 + 8:
        return False
    (length,) = struct.unpack_from("<Q", head, 0)
    return 0 < length < 1024 and b"brain.Event:" in head[12 : 12 + length]


@dataclass
class Scalars:
    """The scalar points of one or more event files, by tag."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    step: dict[str, list[float]] = field(default_factory=dict)
    value: dict[str, list[float]] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    records: int = 0

    def add(self, tag: str, wall: float, step: float, value: float) -> None:
        if tag not in self.value:
            self.wall[tag], self.step[tag], self.value[tag] = [], [], []
        self.wall[tag].append(wall)
        self.step[tag].append(step)
        self.value[tag].append(value)

    def arrays(self, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.asarray(self.wall[tag], dtype=np.float64),
            np.asarray(self.step[tag], dtype=np.float64),
            np.asarray(self.value[tag], dtype=np.float64),
        )


def _records(buf: bytes, display: str, warnings: list[str]) -> Iterator[bytes]:
    crc = _crc_function()
    unpack_head, unpack_foot = _HEADER.unpack_from, _FOOTER.unpack_from
    n = len(buf)
    pos = 0
    count = 0
    while pos < n:
        if pos + 12 > n:
            warnings.append(f"{display}: the last record is cut short at byte {pos} (a run still being written?); read the {count} before it")
            return
        length, len_crc = unpack_head(buf, pos)
        end = pos + 12 + length + 4
        if crc is not None:
            c = crc(buf[pos : pos + 8])  # _masked, inlined: this loop runs once per point
            if (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF != len_crc:
                warnings.append(f"{display}: record {count + 1} at byte {pos} fails its length check (a damaged file); read the {count} before it")
                return
        if end > n:
            warnings.append(f"{display}: the last record is cut short at byte {pos} (a run still being written?); read the {count} before it")
            return
        data = buf[pos + 12 : end - 4]
        if crc is not None:
            c = crc(data)
            if (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF != unpack_foot(buf, end - 4)[0]:
                warnings.append(f"{display}: record {count + 1} at byte {pos} fails its data check (a damaged file); read the {count} before it")
                return
        yield data
        count += 1
        pos = end


def _tensor_scalar(tensor: Any) -> float | None:
    """The value of a rank-0 (or one-element) numeric tensor, else None."""
    dims = tensor.tensor_shape.dim
    if len(dims) > 1 or (len(dims) == 1 and dims[0].size != 1):
        return None
    dtype = tensor.dtype
    if dtype not in _NUMERIC_DTYPES:
        return None
    if tensor.tensor_content:
        if dtype == 14:  # bfloat16: the high half of a float32
            raw = np.frombuffer(tensor.tensor_content[:2], dtype="<u2").astype(np.uint32) << 16
            return float(raw.view(np.float32)[0])
        arr = np.frombuffer(tensor.tensor_content, dtype=_NUMERIC_DTYPES[dtype])
        return float(arr[0]) if arr.size else None
    for vals in (tensor.float_val, tensor.double_val, tensor.int64_val, tensor.int_val):
        if len(vals):
            return float(vals[0])
    if len(tensor.half_val):
        return float(np.asarray([tensor.half_val[0]], dtype=np.uint16).view(np.float16)[0])
    return None


def _hparams(content: bytes) -> dict[str, Any]:
    try:
        from tensorboard.plugins.hparams import plugin_data_pb2
    except ImportError:  # pragma: no cover - part of the same package
        return {}
    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except Exception:  # a damaged hparams record only loses the hyperparameters
        return {}
    out: dict[str, Any] = {}
    for k, v in data.session_start_info.hparams.items():
        kind = v.WhichOneof("kind")
        if kind is not None:
            out[k] = getattr(v, kind)
    return out


def read_event_file(path: Path | None, display: str, data: bytes | None = None, into: Scalars | None = None, prefix: str = "") -> Scalars:
    """Every scalar point of one event file (``data`` when given, else ``path``)."""
    event_pb2, _ = _protos()
    out = into if into is not None else Scalars()
    plugin_of: dict[str, str] = {}
    if data is None:
        assert path is not None
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as e:
            from ..errors import InputError

            raise InputError(display, f"cannot read file ({e.strerror or e})") from None
    parse = event_pb2.Event.FromString
    # per tag, its three lists in ``out`` (appending directly: this loop runs
    # once per point, a million times for a long run)
    lists: dict[str, tuple[list[float], list[float], list[float]]] = {}

    def add(tag: str, wall: float, step: float, x: float) -> None:
        out.add(tag, wall, step, x)
        lists[tag] = (out.wall[tag], out.step[tag], out.value[tag])

    for rec in _records(data, display, out.warnings):
        out.records += 1
        try:
            ev = parse(rec)
        except Exception:
            out.warnings.append(f"{display}: record {out.records} is not a valid Event; stopped reading this file there")
            break
        if not ev.HasField("summary"):
            continue
        wall, step = ev.wall_time, float(ev.step)
        for v in ev.summary.value:
            tag = v.tag
            if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:
                plugin = v.metadata.plugin_data.plugin_name
                plugin_of[tag] = plugin
                if plugin == "hparams" and tag.endswith("session_start_info"):
                    out.hparams.update(_hparams(v.metadata.plugin_data.content))
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                x = v.simple_value
            elif kind == "tensor" and plugin_of.get(tag, "scalars") not in _NOT_SCALARS:
                t = _tensor_scalar(v.tensor)
                if t is None:
                    continue
                x = t
            else:
                continue
            key = prefix + tag if prefix else tag
            cols = lists.get(key)
            if cols is None:
                add(key, wall, step, x)
            else:
                cols[0].append(wall)
                cols[1].append(step)
                cols[2].append(x)
    return out
