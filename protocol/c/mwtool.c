/* mwtool: command-line front end to the C myowire implementation, for the
 * conformance test (tests/protocol/test_wire_c.py) and for poking at frames.
 *
 *   mwtool decode FILE            frame -> JSON {"ok": true, "decoded": {...}} or {"ok": false, "error": NAME}
 *   mwtool decodes                hex frames on stdin, one per line -> one JSON line each
 *   mwtool fragment FILE MTU      one hex line per notification
 *   mwtool reasm                  hex notifications on stdin -> hex frames, then "dropped N"
 *   mwtool emg NODE SEQ T0 CH S.. an EMG frame as hex
 *   mwtool sync NODE ID T1 T2 T3  a time-sync reply as hex
 *   mwtool crc FILE               CRC-16/CCITT-FALSE of the file, decimal
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myowire.h"

static size_t read_file(const char *path, uint8_t *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void put_hex(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static void put_text(const uint8_t *p, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\') printf("\\%c", p[i]);
        else if (p[i] < 0x20) printf("\\u%04x", p[i]);
        else putchar(p[i]);
    }
    putchar('"');
}

static const char *type_names[] = {"", "emg", "imu", "foot", "status", "sync", "ack", "cmd"};
static const char *cmd_names[] = {"unknown", "start", "stop", "configure", "sync", "resend", "status", "identify", "reboot"};

static void decode(const uint8_t *buf, size_t n) {
    mw_frame f;
    int err = mw_check(buf, n, &f);
    if (err != MW_OK) {
        printf("{\"ok\": false, \"error\": \"%s\"}\n", mw_error_name(err));
        return;
    }
    const uint8_t *p = f.payload;
    printf("{\"ok\": true, \"decoded\": {\"type\": \"%s\", \"node_id\": %u, \"seq\": %" PRIu32 ", \"t0_us\": %" PRIu64 ", \"count\": %u",
           type_names[f.type], f.node_id, f.seq, f.t0_us, f.count);
    if (f.type == MW_EMG) {
        unsigned ch = (f.encoding >> 4) + 1u;
        printf(", \"channels\": %u, \"samples\": [", ch);
        for (size_t i = 0; i < (size_t)f.count * ch; i++) printf("%s%d", i ? ", " : "", mw_i16(p + 2 * i));
        printf("]");
    } else if (f.type == MW_IMU) {
        printf(", \"samples\": [");
        for (size_t i = 0; i < f.count; i++) {
            printf("%s[", i ? ", " : "");
            for (int k = 0; k < 6; k++) printf("%s%d", k ? ", " : "", mw_i16(p + 12 * i + 2 * k));
            printf("]");
        }
        printf("]");
    } else if (f.type == MW_FOOT) {
        printf(", \"events\": [");
        for (size_t i = 0; i < f.count; i++)
            printf("%s[%" PRIu32 ", %u, %u]", i ? ", " : "", mw_u32(p + 6 * i), p[6 * i + 4], p[6 * i + 5]);
        printf("]");
    } else if (f.type == MW_STATUS) {
        printf(", \"battery_mv\": %u, \"battery_pct\": %u, \"flags\": %u, \"firmware\": [%u, %u, %u], \"selftest\": %u",
               mw_u16(p), p[2], p[3], p[4], p[5], p[6], p[7]);
        printf(", \"emg_hz\": %u, \"imu_hz\": %u, \"highpass_hz\": %u, \"powerline_hz\": %u, \"nv_per_lsb\": %u",
               mw_u16(p + 8), mw_u16(p + 10), p[12], p[13], mw_u16(p + 14));
        printf(", \"overrun_samples\": %" PRIu32 ", \"oldest_seq\": %" PRIu32 ", \"filter_flags\": %u, \"label\": ",
               mw_u32(p + 16), mw_u32(p + 20), p[24]);
        put_text(p + 26, p[25]);
    } else if (f.type == MW_SYNC) {
        printf(", \"t1_us\": %" PRIu64 ", \"t2_us\": %" PRIu64 ", \"t3_us\": %" PRIu64, mw_u64(p), mw_u64(p + 8), mw_u64(p + 16));
    } else if (f.type == MW_ACK) {
        printf(", \"opcode\": %u, \"status\": %u, \"value\": %" PRIu32 ", \"message\": ", p[0], p[1], mw_u32(p + 2));
        put_text(p + 6, f.payload_len - 6);
    } else { /* MW_CMD */
        uint8_t op = p[0];
        printf(", \"opcode\": %u, \"command\": \"%s\"", op, cmd_names[op <= 8 ? op : 0]);
        if (op == MW_C_CONFIGURE) {
            printf(", \"emg_hz\": %u, \"highpass_hz\": %u, \"powerline_hz\": %u, \"imu_hz\": %u, \"new_node_id\": %u, \"flags\": %u, \"label\": ",
                   mw_u16(p + 1), p[3], p[4], mw_u16(p + 5), p[7], p[8]);
            put_text(p + 11, p[10]);
        } else if (op == MW_C_RESEND) {
            printf(", \"first_seq\": %" PRIu32 ", \"last_seq\": %" PRIu32, mw_u32(p + 1), mw_u32(p + 5));
        } else if (op == MW_C_IDENTIFY) {
            printf(", \"seconds\": %u", p[1]);
        }
    }
    printf("}}\n");
}

static int unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return (int)(n / 2);
}

int main(int argc, char **argv) {
    static uint8_t buf[4096], out[4096];
    if (argc >= 3 && !strcmp(argv[1], "decode")) {
        decode(buf, read_file(argv[2], buf, sizeof buf));
    } else if (argc >= 2 && !strcmp(argv[1], "decodes")) {
        static char line[8300];
        while (fgets(line, sizeof line, stdin)) {
            int n = unhex(line, buf, sizeof buf);
            if (n < 0) { fprintf(stderr, "bad hex line\n"); return 2; }
            decode(buf, (size_t)n);
        }
    } else if (argc >= 4 && !strcmp(argv[1], "fragment")) {
        size_t n = read_file(argv[2], buf, sizeof buf), len;
        size_t room = (size_t)atoi(argv[3]) - 3;
        for (size_t i = 0; (len = mw_fragment(buf, n, room, i, out)) > 0; i++) put_hex(out, len);
    } else if (argc >= 2 && !strcmp(argv[1], "reasm")) {
        static mw_reassembler r;
        static char line[8300];
        mw_reasm_init(&r);
        while (fgets(line, sizeof line, stdin)) {
            int n = unhex(line, buf, sizeof buf);
            if (n < 0) { fprintf(stderr, "bad hex line\n"); return 2; }
            const uint8_t *frame;
            size_t len = mw_reasm_feed(&r, buf, (size_t)n, &frame);
            if (len) put_hex(frame, len);
        }
        printf("dropped %lu\n", r.dropped);
    } else if (argc >= 6 && !strcmp(argv[1], "emg")) {
        unsigned ch = (unsigned)atoi(argv[5]);
        size_t nvals = (size_t)(argc - 6);
        if (ch < 1 || ch > 16 || nvals == 0 || nvals % ch || nvals / ch > 255) { fprintf(stderr, "bad samples\n"); return 2; }
        for (size_t i = 0; i < nvals; i++) {
            int v = atoi(argv[6 + i]);
            buf[2 * i] = (uint8_t)(v & 0xFF);
            buf[2 * i + 1] = (uint8_t)((v >> 8) & 0xFF);
        }
        size_t len = mw_encode(out, sizeof out, MW_EMG, (uint8_t)atoi(argv[2]), (uint8_t)((ch - 1) << 4), (uint8_t)(nvals / ch),
                               (uint32_t)strtoul(argv[3], 0, 10), strtoull(argv[4], 0, 10), buf, 2 * nvals);
        if (!len) return 2;
        put_hex(out, len);
    } else if (argc >= 7 && !strcmp(argv[1], "sync")) {
        uint64_t t[3];
        for (int k = 0; k < 3; k++) {
            t[k] = strtoull(argv[4 + k], 0, 10);
            for (int i = 0; i < 8; i++) buf[8 * k + i] = (uint8_t)(t[k] >> (8 * i));
        }
        size_t len = mw_encode(out, sizeof out, MW_SYNC, (uint8_t)atoi(argv[2]), 0, 0, (uint32_t)strtoul(argv[3], 0, 10), t[2], buf, 24);
        put_hex(out, len);
    } else if (argc >= 3 && !strcmp(argv[1], "crc")) {
        size_t n = read_file(argv[2], buf, sizeof buf);
        printf("%u\n", mw_crc16(buf, n, 0xFFFF));
    } else {
        fprintf(stderr, "usage: mwtool decode|fragment|reasm|emg|sync|crc ... (see the source)\n");
        return 2;
    }
    return 0;
}
