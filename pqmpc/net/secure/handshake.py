"""The PQNoise handshake: pqKK (pinned static keys), pqNNpsk0 (PSK) or pqKKpsk0 (both).

Message flow (initiator I, responder R; docs/secure-channel.md has the bytes)::

    hello = "PQS1" ‖ version ‖ flags ‖ fp(s_I) ‖ fp(s_R)       (the Noise prologue)
    pre-messages (static mode):  -> s   <- s
    msg 1  I -> R   hello ‖ [psk] [skem] e ‖ payload
    msg 2  R -> I   "PQS2" ‖ ekem [skem] ‖ payload
    then each side sends one CONFIRM record under the split keys and waits
    for the other's, so both learn the outcome before any application data.

Any failure is sent to the peer as a plain "PQSA" alert (best effort) and
raised here as :class:`AuthenticationError` / :class:`HandshakeError`.
"""

from __future__ import annotations

import struct

from ...errors import AuthenticationError, ChannelError, HandshakeError, ProtocolError
from .keys import Identity, PublicKey
from .noise import TAGLEN, DecryptFailed, SymmetricState
from .xwing import CT_BYTES, PK_BYTES, SEED_BYTES, XWingPrivateKey, check_public, encapsulate

VERSION = 1
HELLO = struct.Struct("<4sBB12s12s")
MAGIC1, MAGIC2, ALERT = b"PQS1", b"PQS2", b"PQSA"
F_STATIC, F_PSK = 1, 2
MAX_ALERT = 1024
_NOFP = bytes(12)


def protocol_name(flags: int) -> bytes:
    pattern = {F_STATIC: "pqKK", F_PSK: "pqNNpsk0", F_STATIC | F_PSK: "pqKKpsk0"}[flags]
    return f"Noise_{pattern}_XWing_AESGCM_SHA512".encode()


def fp_bytes(pk: PublicKey | None) -> bytes:
    return _NOFP if pk is None else bytes.fromhex(pk.fingerprint.replace(" ", ""))


def _fp_text(raw: bytes) -> str:
    h = raw.hex()
    return " ".join(h[i:i + 4] for i in range(0, 24, 4))


def msg1_len(flags: int) -> int:
    n = HELLO.size + PK_BYTES + TAGLEN  # e and the payload tag (a key is always set by then)
    if flags & F_STATIC:
        n += CT_BYTES + (TAGLEN if flags & F_PSK else 0)
    return n


def msg2_len(flags: int) -> int:
    return 4 + CT_BYTES + (CT_BYTES + TAGLEN if flags & F_STATIC else 0) + TAGLEN


class Coins:
    """Where the handshake's randomness comes from: the OS, or a seeded Rng (test vectors)."""

    def __init__(self, rng=None, encaps_derand=None):
        if rng is not None and encaps_derand is None:
            from ...errors import ParameterError

            raise ParameterError("a seeded handshake (rng=...) also needs encaps_derand: OpenSSL's ML-KEM "
                                 "draws its own coins")
        self.rng = rng
        self.encaps_derand = encaps_derand

    def ephemeral(self) -> XWingPrivateKey:
        return XWingPrivateKey.generate(None if self.rng is None else self.rng.bytes(SEED_BYTES))

    def encapsulate(self, pk: bytes) -> tuple[bytes, bytes]:
        if self.rng is None:
            return encapsulate(pk)
        return encapsulate(pk, self.rng.bytes(64), self.encaps_derand)


class Session:
    """Handshake state for one side; ``run()`` returns (tx, rx, transcript hash)."""

    def __init__(self, ch, role: str, identity: Identity | None, peer: PublicKey | None,
                 psk: bytes | None, coins: Coins, step: str = "secure channel handshake"):
        self.ch, self.role, self.identity, self.peer, self.psk = ch, role, identity, peer, psk
        self.coins = coins
        self.step = step
        self.flags = (F_STATIC if identity is not None else 0) | (F_PSK if psk is not None else 0)
        self.bytes_sent = self.bytes_received = 0

    # -- plumbing -----------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.ch.send(data)
        self.bytes_sent += len(data) + 4

    def recv(self, expected: int, what: str) -> bytes:
        frame = bytes(self.ch._frame(max(expected, MAX_ALERT), f"{self.step}, {what}"))
        self.bytes_received += len(frame) + 4
        if frame[:4] == ALERT:
            text = frame[4:].decode("utf-8", "replace")
            raise AuthenticationError(f"{self.step}: the peer refused the handshake: {text}")
        return frame

    def fail(self, ours: str, theirs: str, cls=AuthenticationError):
        """Tell the peer (best effort, unauthenticated) and raise here."""
        try:
            self.send(ALERT + theirs.encode()[:MAX_ALERT - 4])
        except (ChannelError, OSError):
            pass
        raise cls(f"{self.step}: {ours}")

    def _symmetric(self, hello: bytes, s_i: PublicKey | None, s_r: PublicKey | None) -> SymmetricState:
        ss = SymmetricState(protocol_name(self.flags))
        ss.mix_hash(hello)  # prologue
        if self.flags & F_STATIC:
            ss.mix_hash(s_i.raw)
            ss.mix_hash(s_r.raw)
        return ss

    # -- initiator ------------------------------------------------------------
    def initiate(self):
        fl = self.flags
        mine = self.identity.public if self.identity is not None else None
        hello = HELLO.pack(MAGIC1, VERSION, fl, fp_bytes(mine), fp_bytes(self.peer))
        ss = self._symmetric(hello, mine, self.peer)
        body = [hello]
        if fl & F_PSK:
            ss.mix_key_and_hash(self.psk)
        if fl & F_STATIC:
            ss1, ct1 = self.coins.encapsulate(self.peer.raw)
            body.append(ss.encrypt_and_hash(ct1))
            ss.mix_key_and_hash(ss1)
        e = self.coins.ephemeral()
        body.append(e.public_bytes)
        ss.mix_hash(e.public_bytes)
        if fl & F_PSK:
            ss.mix_key(e.public_bytes)
        body.append(ss.encrypt_and_hash(b""))
        self.send(b"".join(body))

        msg = self.recv(msg2_len(fl), "message 2")
        if len(msg) != msg2_len(fl) or msg[:4] != MAGIC2:
            self.fail(f"message 2 is malformed ({len(msg)} bytes)", "our peer received a malformed message 2",
                      ProtocolError)
        pos = 4
        ct2 = msg[pos:pos + CT_BYTES]
        pos += CT_BYTES
        ss.mix_hash(ct2)
        try:
            ss.mix_key(e.decapsulate(ct2))
            if fl & F_STATIC:
                enc = msg[pos:pos + CT_BYTES + TAGLEN]
                pos += len(enc)
                ct3 = ss.decrypt_and_hash(enc)
                ss.mix_key_and_hash(self.identity.private_key.decapsulate(ct3))
            ss.decrypt_and_hash(msg[pos:])
        except (DecryptFailed, ProtocolError):
            who = f"identity {self.peer.fingerprint}" if fl & F_STATIC else "the pre-shared key"
            self.fail(f"the peer failed to prove it holds {who} (an impostor, or the connection was tampered with)",
                      "we could not authenticate your handshake message 2 (are you the key holder?)")
        return ss

    # -- responder ------------------------------------------------------------
    def respond(self):
        fl = self.flags
        mine = self.identity.public if self.identity is not None else None
        msg = self.recv(msg1_len(F_STATIC | F_PSK), "message 1")
        if len(msg) < HELLO.size or msg[:4] != MAGIC1:
            self.fail("the peer is not speaking the pqmpc secure channel (did it run with --insecure?)",
                      "this side expects a pqmpc secure-channel hello", HandshakeError)
        magic, version, pfl, fp_i, fp_r = HELLO.unpack_from(msg)
        if version != VERSION:
            self.fail(f"the peer speaks secure-channel version {version}, we speak {VERSION}",
                      f"this side speaks secure-channel version {VERSION}, you speak {version}", HandshakeError)
        self._check_modes(pfl, fp_i, fp_r, mine)
        if len(msg) != msg1_len(fl):
            self.fail(f"message 1 is malformed ({len(msg)} bytes)", "we received a malformed message 1",
                      ProtocolError)
        hello = msg[:HELLO.size]
        ss = self._symmetric(hello, self.peer, mine)
        pos = HELLO.size
        try:
            if fl & F_PSK:
                ss.mix_key_and_hash(self.psk)
            if fl & F_STATIC:
                n = CT_BYTES + ss.overhead()
                ct1 = ss.decrypt_and_hash(msg[pos:pos + n])
                pos += n
                ss.mix_key_and_hash(self.identity.private_key.decapsulate(ct1))
            re = msg[pos:pos + PK_BYTES]
            pos += PK_BYTES
            check_public(re)
            ss.mix_hash(re)
            if fl & F_PSK:
                ss.mix_key(re)
            ss.decrypt_and_hash(msg[pos:])
        except (DecryptFailed, ProtocolError):
            if fl & F_PSK:
                self.fail("message 1 failed authentication: the pre-shared keys differ (or it was tampered with)",
                          "the peer could not authenticate our message 1: the pre-shared keys differ "
                          "(or it was tampered with)")
            self.fail("message 1 failed authentication (tampered with, or not made for our key)",
                      "the peer could not authenticate our message 1 (tampered with on the way?)")
        out = [MAGIC2]
        ss2, ct2 = self.coins.encapsulate(re)
        out.append(ct2)
        ss.mix_hash(ct2)
        ss.mix_key(ss2)
        if fl & F_STATIC:
            ss3, ct3 = self.coins.encapsulate(self.peer.raw)
            out.append(ss.encrypt_and_hash(ct3))
            ss.mix_key_and_hash(ss3)
        out.append(ss.encrypt_and_hash(b""))
        self.send(b"".join(out))
        return ss

    def _check_modes(self, pfl: int, fp_i: bytes, fp_r: bytes, mine: PublicKey | None) -> None:
        fl = self.flags
        if (pfl & F_PSK) and not (fl & F_PSK):
            self.fail("missing key: the peer uses a pre-shared key but we were given none",
                      "missing key: the peer has no pre-shared key but we use one")
        if (fl & F_PSK) and not (pfl & F_PSK):
            self.fail("missing key: we require a pre-shared key but the peer has none",
                      "missing key: the peer requires a pre-shared key but we were given none")
        if (pfl & F_STATIC) and not (fl & F_STATIC):
            self.fail("missing key: the peer authenticates with an identity key but we have no identity/peer key",
                      "missing key: the peer has no identity/peer key configured but we use one")
        if (fl & F_STATIC) and not (pfl & F_STATIC):
            self.fail("missing key: we require the peer's identity key but it offered none",
                      "missing key: the peer requires an identity key (--identity/--peer) but we have none")
        if pfl & ~(F_STATIC | F_PSK):
            self.fail("the peer asked for an unknown mode", "unknown mode flags", HandshakeError)
        if fl & F_STATIC:
            if fp_i != fp_bytes(self.peer):
                self.fail(f"wrong peer key: the peer's identity is {_fp_text(fp_i)}, "
                          f"but we expect {self.peer.fingerprint}",
                          f"wrong peer key: the peer expects identity {self.peer.fingerprint}, "
                          f"ours is {_fp_text(fp_i)}")
            if fp_r != fp_bytes(mine):
                self.fail(f"wrong peer key: the peer expects our identity to be {_fp_text(fp_r)}, "
                          f"but ours is {mine.fingerprint}",
                          f"wrong peer key: the peer's identity is {mine.fingerprint}, "
                          f"but we expect {_fp_text(fp_r)}")
