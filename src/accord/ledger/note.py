"""C2SP signed notes, tlog checkpoints and tlog cosignatures, with Ed25519.

Pure: no IO besides what ``cryptography`` does in memory. The formats
(c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature):

    accord.local/ledger                    checkpoint body: origin,
    1234                                   tree size (decimal),
    3q2+7w...=                             base64 root hash,
                                           a blank line,
    — accord.local/ledger AAAAAf...==      signature lines: name, base64(key id || signature)
    — witness.example/w1 BBBBBg...==

A signature line's key id is ``SHA-256(name || 0x0A || type || public key)[:4]``;
type 0x01 is an Ed25519 signature of the note text (the log's own), type 0x04
a timestamped witness cosignature: ``timestamp (u64, big-endian) || Ed25519
signature of "cosignature/v1\\ntime <timestamp>\\n" || note text``. A verifier
key is ``name+hex(key id)+base64(type || public key)``.

Data flows as text: the checkpoint service formats a body and signs it, a
witness parses the note, verifies the log's line and adds its own, and
:mod:`accord.ledger.verify` parses and checks it all with the verifier keys
that an auditor was given out of band.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import InvalidInput, VerificationFailed

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "Checkpoint",
    "Cosigner",
    "Note",
    "NoteSignature",
    "Signer",
    "Verifier",
    "cosignature_lines",
    "format_checkpoint",
    "key_id",
    "parse_checkpoint",
    "parse_note",
    "verify_note",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
_DASH = "\u2014 "
_MAX_SIGNATURES = 100


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """The 4-byte key id: ``SHA-256(name || 0x0A || alg || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise InvalidInput(f"key name {name!r} is empty or holds a space or '+'", name=name)


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what} is not standard base64: {text!r}") from exc


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_DASH}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text (ending in a newline) and its signature lines, in order."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    def format(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, signature: NoteSignature) -> Note:
        """The note with one more line (a line already present is not repeated)."""
        if signature in self.signatures:
            return self
        return Note(self.text, (*self.signatures, signature))


def parse_note(data: str | bytes) -> Note:
    """Parse a signed note; the text is everything before the last blank line."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("a signed note must be UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise InvalidInput("a signed note must not hold control characters other than newline")
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise InvalidInput("a signed note is text, a blank line, then signature lines")
    text, sig_block = data[: split + 1], data[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise InvalidInput("a signed note has at least one signature line")
    if len(lines) > _MAX_SIGNATURES:
        raise InvalidInput(f"a signed note may hold at most {_MAX_SIGNATURES} signatures")
    signatures: list[NoteSignature] = []
    for line in lines:
        if not line.startswith(_DASH):
            raise InvalidInput(f"signature line does not start with an em dash: {line!r}")
        name, sep, encoded = line[len(_DASH) :].partition(" ")
        if not sep:
            raise InvalidInput(f"signature line has no signature: {line!r}")
        _check_name(name)
        raw = _b64decode(encoded, "a signature")
        if len(raw) < 5:
            raise InvalidInput(f"signature of {name} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return Note(text, tuple(signatures))


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key that checks signature lines of one name and key id."""

    name: str
    alg: int
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.alg not in (ALG_ED25519, ALG_COSIGNATURE_V1) or len(self.public_key) != 32:
            raise InvalidInput(
                f"verifier key of {self.name}: only Ed25519 (types 0x01, 0x04) is supported"
            )
        object.__setattr__(self, "key_id", key_id(self.name, self.alg, self.public_key))

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse ``name+hex(key id)+base64(type || public key)``."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise InvalidInput(f"a verifier key is name+keyid+key: {vkey!r}")
        name, hex_id, encoded = parts
        raw = _b64decode(encoded, "a verifier key")
        if len(raw) < 2:
            raise InvalidInput("a verifier key holds a type byte and a key")
        verifier = cls(name, raw[0], raw[1:])
        if verifier.key_id.hex() != hex_id.lower() or len(hex_id) != 8:
            raise InvalidInput(f"verifier key of {name}: key id {hex_id} does not match the key")
        return verifier

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def matches(self, signature: NoteSignature) -> bool:
        return signature.name == self.name and signature.key_id == self.key_id

    def check(self, text: str, signature: NoteSignature) -> None:
        """Verify one line made by this key; raises :class:`VerificationFailed`."""
        if not self.matches(signature):
            raise VerificationFailed(f"signature line is not from {self.name}")
        message, sig = text.encode(), signature.signature
        if self.alg == ALG_COSIGNATURE_V1:
            if len(sig) != 8 + 64:
                raise VerificationFailed(f"cosignature of {self.name} is not 72 bytes")
            (timestamp,) = struct.unpack(">Q", sig[:8])
            message = _cosigned_message(timestamp, text)
            sig = sig[8:]
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(sig, message)
        except InvalidSignature:
            raise VerificationFailed(f"the signature of {self.name} does not verify") from None

    def cosignature_time(self, signature: NoteSignature) -> int | None:
        """The POSIX time a cosignature line states (None for a plain signature)."""
        if self.alg != ALG_COSIGNATURE_V1 or len(signature.signature) < 8:
            return None
        return int(struct.unpack(">Q", signature.signature[:8])[0])


def _cosigned_message(timestamp: int, text: str) -> bytes:
    if not 0 <= timestamp < 2**63:
        raise VerificationFailed("a cosignature timestamp must be below 2**63")
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


class Signer:
    """An Ed25519 key that signs notes (type 0x01): the log's checkpoint key."""

    alg = ALG_ED25519

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if len(seed) != 32:
            raise InvalidInput("an Ed25519 signing key is a 32-byte seed")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = _public_bytes(self._key.public_key())
        self.verifier = Verifier(name, self.alg, self.public_key)

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self.name, self.verifier.key_id, self._key.sign(text.encode()))


class Cosigner(Signer):
    """A witness key (type 0x04): timestamped cosignatures per c2sp.org/tlog-cosignature."""

    alg = ALG_COSIGNATURE_V1

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        sig = self._key.sign(_cosigned_message(timestamp, text))
        return NoteSignature(self.name, self.verifier.key_id, struct.pack(">Q", timestamp) + sig)

    def sign(self, text: str) -> NoteSignature:
        raise InvalidInput("a cosigner signs with a timestamp: use cosign(text, timestamp)")


def verify_note(note: Note, verifiers: Iterable[Verifier]) -> list[Verifier]:
    """Check every line made by a known key; returns the keys that signed.

    As the spec asks: lines of unknown keys are ignored, a known key's line that
    fails rejects the note, and a note that no known key signed is rejected.
    """
    known = list(verifiers)
    signed: list[Verifier] = []
    for signature in note.signatures:
        for verifier in known:
            if verifier.matches(signature):
                verifier.check(note.text, signature)
                if verifier not in signed:
                    signed.append(verifier)
    if not signed:
        names = ", ".join(v.name for v in known) or "no keys"
        raise VerificationFailed(f"the note carries no signature from the given keys ({names})")
    return signed


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog checkpoint body: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def format(self) -> str:
        return format_checkpoint(self)


def format_checkpoint(cp: Checkpoint) -> str:
    """The note text of a checkpoint (three lines and any extension lines)."""
    if not cp.origin or "\n" in cp.origin or cp.size < 0 or len(cp.root) != 32:
        raise InvalidInput("a checkpoint has an origin line, a size >= 0 and a 32-byte root")
    lines = [cp.origin, str(cp.size), base64.b64encode(cp.root).decode(), *cp.extensions]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (a note's text, or a whole note: its text is used)."""
    if "\n\n" in text:
        text = parse_note(text).text
    if not text.endswith("\n"):
        raise InvalidInput("a checkpoint body ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InvalidInput("a checkpoint has an origin, a size and a root hash line")
    origin, size_text, root_text, *ext = lines
    if not origin:
        raise InvalidInput("a checkpoint's origin line is empty")
    if not size_text.isascii() or not size_text.isdigit() or size_text != str(int(size_text)):
        raise InvalidInput(f"a checkpoint's size is a decimal without leading zeros: {size_text!r}")
    root = _b64decode(root_text, "a checkpoint's root hash")
    if len(root) != 32:
        raise InvalidInput("a checkpoint's root hash is 32 bytes")
    if any(not line for line in ext):
        raise InvalidInput("a checkpoint's extension lines are not empty")
    return Checkpoint(origin, int(size_text), root, tuple(ext))


def cosignature_lines(note: Note, log: Verifier) -> Sequence[NoteSignature]:
    """The lines of a note that are not the log's own."""
    return [s for s in note.signatures if not log.matches(s)]
