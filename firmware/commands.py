"""Control commands from the host (T_CMD frames written to CONTROL).

Each command gets exactly one reply on REPLY that echoes the command id as
seq: a T_SYNC for a time-sync ping (t2 = node clock when the write arrived, t3
= node clock just before the reply is notified), a T_ACK for everything else.
Malformed frames and bad arguments get ACK_BAD_ARGS, unknown opcodes
ACK_UNKNOWN, commands the current state forbids ACK_STATE. RESEND answers OK
(value = frames queued) or GONE (value = oldest seq still held; what is still
held of the range is resent anyway).
"""

import struct

from myowire import codec


class Commands:
    def __init__(self, node):
        self.node = node
        self.count = 0

    def handle(self, msg, t2_us):
        """Dispatch one command frame; returns the reply frame that was sent."""
        self.count += 1
        node = self.node
        nid = node.cfg["node_id"]
        cmd_id = 0
        op = 0
        if len(msg) >= codec.HEADER_SIZE:
            cmd_id = struct.unpack_from("<I", msg, 4)[0]
        if len(msg) > codec.HEADER_SIZE:
            op = msg[codec.HEADER_SIZE]
        try:
            ftype, to_id, _e, _c, cmd_id, t1_us = codec.check_frame(msg)
        except codec.WireError as e:
            text = str(e)
            if op and op not in codec.COMMAND_NAMES and "opcode" in text:
                return self._ack(cmd_id, op, codec.ACK_UNKNOWN, 0, "unknown command %d" % op)
            return self._ack(cmd_id, op, codec.ACK_BAD_ARGS, 0, text)
        if ftype != codec.T_CMD:
            return self._ack(cmd_id, op, codec.ACK_BAD_ARGS, 0, "not a command frame")
        if to_id != nid and to_id != codec.BROADCAST:
            return self._ack(cmd_id, op, codec.ACK_BAD_ARGS, nid, "for node %d, this is node %d" % (to_id, nid))
        if op == codec.C_SYNC:
            return node.reply_sync(cmd_id, t1_us, t2_us)
        if op == codec.C_START:
            st, val, text = node.start_streaming()
        elif op == codec.C_STOP:
            st, val, text = node.stop_streaming()
        elif op == codec.C_CONFIGURE:
            st, val, text = node.configure(codec.decode_command_payload(msg, codec.HEADER_SIZE, len(msg) - 2))
        elif op == codec.C_RESEND:
            first, last = struct.unpack_from("<II", msg, codec.HEADER_SIZE + 1)
            st, val, text = node.resend(first, last)
        elif op == codec.C_STATUS:
            st, val, text = node.status_now()
        elif op == codec.C_IDENTIFY:
            st, val, text = node.identify(msg[codec.HEADER_SIZE + 1])
        elif op == codec.C_REBOOT:
            st, val, text = node.request_reboot()
        else:  # check_frame knows the opcode but this firmware does not
            return self._ack(cmd_id, op, codec.ACK_UNKNOWN, 0, "unknown command %d" % op)
        return self._ack(cmd_id, op, st, val, text)

    def busy(self, msg):
        """Answer a command that cannot even be queued."""
        cmd_id = struct.unpack_from("<I", msg, 4)[0] if len(msg) >= codec.HEADER_SIZE else 0
        op = msg[codec.HEADER_SIZE] if len(msg) > codec.HEADER_SIZE else 0
        return self._ack(cmd_id, op, codec.ACK_BUSY, 0, "too many commands queued")

    def _ack(self, cmd_id, op, status, value, message):
        node = self.node
        frame = codec.encode_ack(node.cfg["node_id"], cmd_id, node.clock.now_us(), op, status, value & 0xFFFFFFFF, message)
        node.radio.reply(frame)
        return frame
