"""Shared by the malicious OT-extension tests: a channel that lets a test play a cheating party."""

from pqmpc.net import MemoryChannel


class TamperingChannel(MemoryChannel):
    """A memory channel whose sent frames pass through ``tamper(index, frame) -> frame``
    once ``armed``; ``index`` counts frames sent since arming."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.tamper = None
        self.armed = False
        self.count = 0

    def arm(self, tamper):
        self.tamper, self.armed, self.count = tamper, True, 0

    def _send_message(self, payload):
        if self.armed and self.tamper is not None:
            frame = bytearray(payload)
            frame = self.tamper(self.count, frame)
            self.count += 1
            payload = memoryview(bytes(frame))
        super()._send_message(payload)
