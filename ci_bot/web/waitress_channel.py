"""waitress's HTTP channel without its busy loop while a request thread sends.

waitress's I/O thread asks every channel, on each turn of its ``poll()`` loop,
whether it has output to write.  A request thread answering puts its bytes in
the channel's buffer and sends them itself, holding the buffer's lock; the
channel says "writable" from the moment the bytes are in the buffer until that
send returns *and the thread has the GIL back*.  Meanwhile the I/O thread's
``poll()`` returns at once (the socket is writable), it cannot take the lock,
and it goes round again.  With a busy process (a burst of webhooks, the queue's
workers, the engine) the request thread waits milliseconds for the GIL, so the
I/O thread went round about 65 times per request and spent more CPU than the
requests themselves (measured: 1.6 ms of CPU per webhook against 0.5 ms for bare
Flask on the same server, 130 000 ``poll()`` calls for 2 000 requests).

Here a channel is not writable while a request thread is inside its send.  Nothing
waits for the I/O thread meanwhile: a send that leaves bytes behind wakes it (waitress
pulls its trigger after the send, as before), and so does the end of every request.
"""

from __future__ import annotations

from typing import Any

from waitress.channel import HTTPChannel


class QuietChannel(HTTPChannel):  # type: ignore[misc]  # waitress ships no types
    sending = False  # a thread is inside _flush_some now

    def writable(self) -> bool:
        return bool(super().writable()) and not self.sending

    def _flush_some(self, do_close: bool = True) -> Any:
        self.sending = True
        try:
            return super()._flush_some(do_close=do_close)
        finally:
            self.sending = False
