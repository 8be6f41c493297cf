"""Control commands from the host (T_CMD frames written to CONTROL).

Each command gets exactly one reply on REPLY that echoes the command id as
seq: a T_SYNC for a time-sync ping (t2 = node clock when the write arrived, t3
= node clock just before the reply is notified), a T_ACK for everything else.
Malformed frames and bad arguments get ACK_BAD_ARGS, unknown opcodes
ACK_UNKNOWN, commands the current state forbids ACK_STATE. RESEND answers OK
(value = frames queued) or GONE (value = oldest seq still held; what is still
held of the range is resent anyway).

The command implementations live here (what CONFIGURE accepts, what RESEND answers...);
the node provides the pipeline operations they need (flush_frames, reconfigure, status_now).
"""

import struct

from myowire import codec

import config

_REBOOT_DELAY_US = 200000  # after the ack has gone out
_CFG_FLAGS = codec.CFG_POWERLINE_OFF | codec.CFG_IMU_OFF | codec.CFG_CLEAR_LABEL


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
            return node.radio.reply_sync(cmd_id, t1_us, t2_us)
        if op == codec.C_START:
            st, val, text = self.start_streaming()
        elif op == codec.C_STOP:
            st, val, text = self.stop_streaming()
        elif op == codec.C_CONFIGURE:
            st, val, text = self.configure(codec.decode_command_payload(msg, codec.HEADER_SIZE, len(msg) - 2))
        elif op == codec.C_RESEND:
            first, last = struct.unpack_from("<II", msg, codec.HEADER_SIZE + 1)
            st, val, text = self.resend(first, last)
        elif op == codec.C_STATUS:
            st, val, text = self.status_now()
        elif op == codec.C_IDENTIFY:
            st, val, text = self.identify(msg[codec.HEADER_SIZE + 1])
        elif op == codec.C_REBOOT:
            st, val, text = self.request_reboot()
        else:  # check_frame knows the opcode but this firmware does not
            return self._ack(cmd_id, op, codec.ACK_UNKNOWN, 0, "unknown command %d" % op)
        return self._ack(cmd_id, op, st, val, text)

    # ---- the commands (each returns (ack status, value, message))
    def start_streaming(self):
        """Go live from the next frame stored: the one holding the samples of 'now' (or a
        frame due before it). Frames are cut and numbered from boot either way."""
        node = self.node
        if node.streaming:
            return codec.ACK_OK, node.store.next_seq, "already streaming"
        node.drain_emg()
        first = node.store.next_seq
        node.radio.open_live(first)
        node.streaming = True
        return codec.ACK_OK, first, ""

    def stop_streaming(self):
        node = self.node
        if not node.streaming:
            return codec.ACK_OK, node.store.next_seq, "not streaming"
        node.flush_frames()
        node.streaming = False
        node.radio.close_live()
        return codec.ACK_OK, node.store.next_seq, ""

    def configure(self, a):
        node = self.node
        if node.streaming:
            return codec.ACK_STATE, 0, "stop streaming before configuring"
        new = dict(node.cfg)
        flags = a["flags"]
        if flags & ~_CFG_FLAGS:
            return codec.ACK_BAD_ARGS, 0, "unknown configure flags 0x%02x" % flags
        if a["label"] and flags & codec.CFG_CLEAR_LABEL:
            return codec.ACK_BAD_ARGS, 0, "label must be empty with CLEAR_LABEL"
        for key in ("emg_hz", "highpass_hz"):
            if a[key]:
                new[key] = a[key]
        if a["imu_hz"]:
            new["imu_hz"] = config.imu_rate_hz(a["imu_hz"], node.board.imu_rates)
        if a["powerline_hz"]:
            if flags & codec.CFG_POWERLINE_OFF:
                return codec.ACK_BAD_ARGS, 0, "powerline_hz must be 0 with POWERLINE_OFF"
            new["powerline_hz"] = a["powerline_hz"]
        elif flags & codec.CFG_POWERLINE_OFF:
            new["powerline_hz"] = 0
        if flags & codec.CFG_IMU_OFF:
            if a["imu_hz"]:
                return codec.ACK_BAD_ARGS, 0, "imu_hz must be 0 with IMU_OFF"
            new["imu_hz"] = 0
        if a["new_node_id"]:
            new["node_id"] = a["new_node_id"]
        if a["label"]:
            new["label"] = a["label"]
        elif flags & codec.CFG_CLEAR_LABEL:
            new["label"] = ""
        why = config.problem(new, node.board)
        if why:
            return codec.ACK_BAD_ARGS, 0, why
        if node.cfg_error:
            self._keep_rejected_config()
        try:
            config.save(node.cfg_path, new)
        except OSError as e:
            return codec.ACK_BUSY, 0, "cannot save config: %s" % e
        node.reconfigure(new)
        return codec.ACK_OK, 0, ""

    def _keep_rejected_config(self):
        """Move a rejected config.json aside (config.rejected.json) rather than overwrite it."""
        import os

        node = self.node
        try:
            os.rename(node.cfg_path, node.board.fs_dir + "/config.rejected.json")
        except OSError:
            pass

    def resend(self, first, last):
        store = self.node.store
        if last < first:
            return codec.ACK_BAD_ARGS, 0, "last seq before first"
        if last >= store.next_seq:
            return codec.ACK_BAD_ARGS, store.next_seq, "seq %d not sent yet" % last
        oldest = store.oldest_seq()
        if last >= oldest and not self.node.radio.request_resend(first if first > oldest else oldest, last):
            return codec.ACK_BUSY, 0, "resend queue full"
        if first < oldest:
            return codec.ACK_GONE, oldest, "frames before %d are gone" % oldest
        return codec.ACK_OK, last - first + 1, ""

    def status_now(self):
        node = self.node
        seq = node.store.next_seq if node.streaming else 0
        node.status_now()
        return codec.ACK_OK, seq, ("config defaults: " + node.cfg_error)[:64] if node.cfg_error else ""

    def identify(self, seconds):
        self.node.board.identify(seconds)
        return codec.ACK_OK, seconds, ""

    def request_reboot(self):
        node = self.node
        node.reboot_at_us = node.clock.now_us() + _REBOOT_DELAY_US
        return codec.ACK_OK, 0, ""

    # ---- replies
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
