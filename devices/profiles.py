"""Device profiles: one YAML file per device model in ``firmware_profiles/`` (shipped in the
package as ``devices/firmware_profiles``, a link to it).

Profiles are data validated by pydantic (unknown keys refused, ``schema_version``), loaded
explicitly by name. Byte values are written as hex strings (``"AA 55"``) in YAML.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from agent.errors import ConfigError
from agent.validation import describe_errors, read_yaml_document
from devices.transport import LinkSettings

if TYPE_CHECKING:
    from yaml.nodes import Node

SCHEMA_VERSION = 1


def _hex_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        if not 0 <= value <= 255:
            raise ValueError("a byte is 0..255")
        return bytes([value])
    if isinstance(value, list):
        return b"".join(_hex_bytes(v) for v in value)
    if not isinstance(value, str):
        raise ValueError("write bytes as a hex string such as 'AA 55'")
    text = re.sub(r"[\s,:]|0x", "", value.strip(), flags=re.IGNORECASE)
    if len(text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", text):
        raise ValueError(f"not hex bytes: {value!r}")
    return bytes.fromhex(text)


HexBytes = Annotated[bytes, BeforeValidator(_hex_bytes)]


def _one_byte(value: Any) -> int:
    raw = _hex_bytes(value)
    if len(raw) != 1:
        raise ValueError("want exactly one byte")
    return raw[0]


ByteValue = Annotated[int, BeforeValidator(_one_byte)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransportProfile(_Strict):
    """Serial link defaults; the node config's ``baud`` overrides ``baud``."""

    baud: int = Field(default=9600, gt=0)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    rtscts: bool = False
    xonxoff: bool = False
    usb_vid: int | None = Field(default=None, ge=0, le=0xFFFF)
    usb_pid: int | None = Field(default=None, ge=0, le=0xFFFF)

    def link(self, baud: int | None = None) -> LinkSettings:
        return LinkSettings(
            baud=baud or self.baud,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
            rtscts=self.rtscts,
            xonxoff=self.xonxoff,
        )


class _ProfileBase(_Strict):
    schema_version: Literal[1]
    name: str = Field(min_length=1, description="human name of the model")
    description: str = ""
    transport: TransportProfile = TransportProfile()


class PrinterProfile(_ProfileBase):
    kind: Literal["printer"]
    paper_width_mm: Literal[58, 80]
    dots_per_line: int = Field(ge=256, le=832)
    chars_per_line: int = Field(ge=24, le=72, description="Font A columns; a Hanzi takes two")
    chinese_mode: bool = Field(default=True, description="wrap Chinese text in FS & … FS .")
    text_encoding: Literal["gb18030", "gbk"] = "gb18030"
    number_size: int = Field(default=4, ge=1, le=8, description="magnification of the number")
    native_qr: bool = Field(default=True, description="printer understands GS ( k")
    qr_module_size: int = Field(default=6, ge=1, le=16)
    qr_error_correction: Literal["L", "M", "Q", "H"] = "M"
    cut: Literal["full", "partial", "none"] = "partial"
    feed_lines_before_cut: int = Field(default=4, ge=0, le=20)
    real_time_status: bool = Field(default=True, description="answers DLE EOT n")
    status_timeout_s: float = Field(default=0.5, gt=0, le=10)


class IdReaderProfile(_ProfileBase):
    kind: Literal["idreader"]
    protocol: Literal["sam_v"] = "sam_v"
    read_command: Literal["text_photo", "text_photo_fingerprint"] = "text_photo"
    reply_timeout_s: float = Field(default=1.0, gt=0, le=10)
    retries: int = Field(default=2, ge=0, le=10)
    poll_interval_s: float = Field(default=0.5, gt=0, le=10)


class HidSettings(_Strict):
    layout: Literal["us"] = "us"
    grab: bool = True
    terminator: Literal["enter", "tab"] = "enter"


class CameraSettings(_Strict):
    device: int | str = 0
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    repeat_suppress_s: float = Field(default=3.0, ge=0)
    decoders: list[Literal["opencv", "zbar"]] = ["opencv", "zbar"]


class ScannerProfile(_ProfileBase):
    kind: Literal["scanner"]
    mode: Literal["serial", "hid", "camera"]
    suffix: str = Field(default="\r", description="what ends a code on a serial scanner")
    encoding: Literal["utf-8", "gb18030", "ascii"] = "utf-8"
    max_length: int = Field(default=512, ge=1, le=4096)
    charset: Literal["ascii", "text"] = Field(
        default="text", description="ascii: printable ASCII only; text: printable Unicode"
    )
    hid: HidSettings | None = None
    camera: CameraSettings | None = None

    @model_validator(mode="after")
    def _mode_settings(self) -> ScannerProfile:
        if self.mode == "hid" and self.hid is None:
            raise ValueError("mode 'hid' needs a 'hid' section")
        if self.mode == "camera" and self.camera is None:
            raise ValueError("mode 'camera' needs a 'camera' section")
        if self.mode == "serial" and not self.suffix:
            raise ValueError("a serial scanner needs a non-empty suffix")
        return self


FieldName = Literal["header", "address", "command", "length", "payload", "checksum", "trailer"]
DataField = Literal["address", "command", "length", "payload"]


class AddressSpec(_Strict):
    width: Literal[1, 2] = 1
    format: Literal["binary", "ascii_dec", "ascii_hex"] = "binary"
    endian: Literal["big", "little"] = "big"
    broadcast: int | None = Field(default=None, ge=0, le=0xFFFF)


class LengthSpec(_Strict):
    width: Literal[1, 2] = 1
    endian: Literal["big", "little"] = "big"
    covers: list[FieldName] = Field(default_factory=lambda: list[FieldName](["payload"]))
    adjust: int = Field(default=0, ge=-16, le=16, description="added to the counted length")


class PayloadSpec(_Strict):
    encoding: Literal["gb2312", "gbk", "gb18030", "ascii", "utf-16-le", "utf-16-be"] = "gb2312"
    pad_to: int | None = Field(default=None, ge=1, le=1024, description="fixed payload bytes")
    pad_byte: ByteValue = 0x20
    max_bytes: int = Field(default=128, ge=1, le=1024)


class ChecksumSpec(_Strict):
    kind: Literal["none", "sum8", "xor8", "sum16", "crc16_modbus"] = "none"
    covers: list[FieldName] = Field(
        default_factory=lambda: list[FieldName](["address", "command", "length", "payload"])
    )
    endian: Literal["big", "little"] = Field(
        default="little", description="byte order of 2-byte checksums (Modbus CRC is little)"
    )


class FramingProfile(_Strict):
    """An ordered frame template: the fields, and how each is written."""

    fields: list[FieldName]
    header: HexBytes = b""
    trailer: HexBytes = b""
    address: AddressSpec = AddressSpec()
    command_width: Literal[1] = 1
    length: LengthSpec | None = None
    payload: PayloadSpec = PayloadSpec()
    checksum: ChecksumSpec = ChecksumSpec()
    max_frame: int = Field(default=512, ge=8, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> FramingProfile:
        seen = set()
        for f in self.fields:
            if f in seen:
                raise ValueError(f"field '{f}' appears twice")
            seen.add(f)
        if "header" in seen and not self.header:
            raise ValueError("fields list 'header' but 'header' bytes are empty")
        if "trailer" in seen and not self.trailer:
            raise ValueError("fields list 'trailer' but 'trailer' bytes are empty")
        if "length" in seen and self.length is None:
            raise ValueError("fields list 'length' but there is no 'length' section")
        if "checksum" in seen and self.checksum.kind == "none":
            raise ValueError("fields list 'checksum' but checksum.kind is 'none'")
        if "checksum" not in seen and self.checksum.kind != "none":
            raise ValueError("checksum.kind is set but 'checksum' is not in fields")
        if self.fields[0] != "header" or not self.header:
            raise ValueError("a frame must start with a constant 'header' (for resync)")
        if (
            "payload" in seen
            and "length" not in seen
            and self.payload.pad_to is None
            and "trailer" not in seen
        ):
            raise ValueError("a variable payload needs a length field, pad_to or a trailer")
        return self


class LedProfile(_ProfileBase):
    kind: Literal["led"]
    framing: FramingProfile
    show_command: ByteValue
    clear_command: ByteValue | None = None
    ack_command: ByteValue | None = Field(
        default=None, description="command of the device's acknowledgement frame"
    )
    ack_bytes: HexBytes | None = Field(default=None, description="raw acknowledgement bytes")
    reply_timeout_s: float = Field(default=0.5, gt=0, le=10)
    retries: int = Field(default=1, ge=0, le=5)
    max_chars: int = Field(default=16, ge=1, le=256)

    @model_validator(mode="after")
    def _one_ack(self) -> LedProfile:
        if self.ack_command is not None and self.ack_bytes:
            raise ValueError("set ack_command or ack_bytes, not both")
        return self


class EvaluatorProfile(_ProfileBase):
    kind: Literal["evaluator"]
    framing: FramingProfile
    request_command: ByteValue = Field(description="host → device: ask for a rating")
    cancel_command: ByteValue | None = None
    score_command: ByteValue = Field(description="device → host: a key was pressed")
    ack_command: ByteValue | None = None
    keys: dict[int, int] = Field(
        description="key code in the score frame → score 5 (非常满意) … 1 (非常不满意)"
    )
    reply_timeout_s: float = Field(default=0.5, gt=0, le=10)
    screen: bool = Field(
        default=False, description="it shows the reasons of a bad rating and lets one choose"
    )
    reasons_command: ByteValue | None = Field(
        default=None,
        description="host → device: show these reasons (payload: labels joined by '|')",
    )
    reason_command: ByteValue | None = Field(
        default=None,
        description="device → host: the reasons chosen (payload: 1-based positions, a byte "
        "each; empty: none chosen)",
    )
    reason_timeout_s: float = Field(default=30, gt=0, le=300)

    @model_validator(mode="after")
    def _five_levels(self) -> EvaluatorProfile:
        scores = sorted(self.keys.values())
        if scores != [1, 2, 3, 4, 5]:
            raise ValueError("keys must map five key codes to the scores 1..5, each once")
        if self.screen and (self.reasons_command is None or self.reason_command is None):
            raise ValueError("an evaluator with a screen needs reasons_command and reason_command")
        return self


Profile = Annotated[
    PrinterProfile | IdReaderProfile | ScannerProfile | LedProfile | EvaluatorProfile,
    Field(discriminator="kind"),
]

_PROFILE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Profile)

_KINDS = ("printer", "idreader", "scanner", "led", "evaluator")

AnyProfile = PrinterProfile | IdReaderProfile | ScannerProfile | LedProfile | EvaluatorProfile


def default_profiles_dir() -> Path:
    """``$HALL_AGENT_PROFILES_DIR``, else the ``firmware_profiles/`` shipped in this package."""
    env = os.environ.get("HALL_AGENT_PROFILES_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "firmware_profiles"


def parse_profile(data: Any, source: str, root: Node | None = None) -> AnyProfile:
    """Validate one profile document; :class:`ConfigError` lists ``source: field: reason``."""
    if isinstance(data, dict) and data.get("schema_version") not in (None, SCHEMA_VERSION):
        raise ConfigError(
            f"{source}: schema_version: this agent reads version {SCHEMA_VERSION}, "
            f"not {data.get('schema_version')!r}",
            file=source,
        )
    try:
        profile: AnyProfile = _PROFILE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] in _KINDS:  # the union's tag, not a field of the file
                loc = loc[1:]
            errors.append({**err, "loc": loc})
        raise ConfigError(describe_errors(source, errors, root), file=source) from exc
    return profile


def load_profile_file(path: Path) -> AnyProfile:
    document = read_yaml_document(path)
    return parse_profile(document.data, str(path), document.root)


def load_profile(
    name: str, profiles_dir: Path | None = None, pushed_dir: Path | None = None
) -> AnyProfile:
    """Load ``<profiles_dir>/<name>.yaml`` (``name`` may also be a path to a YAML file).

    A profile of that name in ``pushed_dir`` (the data dir's profiles, signed and sent by
    the central platform) comes first: IT fixes a model's settings without a new release.
    """
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return load_profile_file(candidate)
    if pushed_dir is not None and (pushed := pushed_dir / f"{name}.yaml").exists():
        return load_profile_file(pushed)
    folder = profiles_dir or default_profiles_dir()
    path = folder / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        raise ConfigError(f"{path}: no such profile (known: {known})", file=str(path))
    return load_profile_file(path)


def validate_files(paths: list[Path]) -> list[str]:
    """Every problem in ``paths`` as ``file: field: reason`` lines (empty list: all good)."""
    problems: list[str] = []
    for path in paths:
        try:
            load_profile_file(path)
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
    return problems
