/* myowire: see myowire.h. Rules and section numbers refer to protocol/SPEC.md. */
#include "myowire.h"

#include <string.h>

uint16_t mw_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
uint32_t mw_u32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
uint64_t mw_u64(const uint8_t *p) { return (uint64_t)mw_u32(p) | ((uint64_t)mw_u32(p + 4) << 32); }
int16_t mw_i16(const uint8_t *p) { return (int16_t)mw_u16(p); }

uint16_t mw_crc16(const uint8_t *p, size_t n, uint16_t crc) {
    while (n--) {
        crc ^= (uint16_t)(*p++) << 8;
        for (int i = 0; i < 8; i++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int mw_utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        size_t extra;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b < 0x80) { i++; continue; }
        if (b >= 0xC2 && b <= 0xDF) extra = 1;
        else if (b >= 0xE0 && b <= 0xEF) { extra = 2; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
        else if (b >= 0xF0 && b <= 0xF4) { extra = 3; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
        else return 0;
        if (i + extra >= n) return 0;
        if (p[i + 1] < lo || p[i + 1] > hi) return 0;
        for (size_t k = 2; k <= extra; k++)
            if ((p[i + k] & 0xC0) != 0x80) return 0;
        i += 1 + extra;
    }
    return 1;
}

static int check_command(const uint8_t *pl, size_t plen) {
    static const int args[9] = {-1, 0, 0, -2, 0, 8, 0, 1, 0}; /* -2: configure, variable */
    if (plen < 1) return MW_E_LENGTH;
    uint8_t op = pl[0];
    if (op == MW_C_CONFIGURE) {
        if (plen < 11) return MW_E_LENGTH;
        if (pl[9] != 0) return MW_E_RESERVED;
        uint8_t lab = pl[10];
        if (lab > MW_MAX_LABEL || plen != 11u + lab) return MW_E_LENGTH;
        return mw_utf8_valid(pl + 11, lab) ? MW_OK : MW_E_TEXT;
    }
    if (op == 0 || op > 8) return MW_E_OPCODE;
    return plen - 1 == (size_t)args[op] ? MW_OK : MW_E_LENGTH;
}

int mw_check(const uint8_t *buf, size_t n, mw_frame *f) {
    if (n < MW_OVERHEAD) return MW_E_TRUNCATED;
    if (n > MW_MAX_FRAME) return MW_E_OVERSIZE;
    if ((buf[0] >> 4) != MW_VERSION) return MW_E_VERSION;
    f->type = buf[0] & 0x0F;
    if (f->type < MW_EMG || f->type > MW_CMD) return MW_E_TYPE;
    if (mw_crc16(buf, n - 2, 0xFFFF) != mw_u16(buf + n - 2)) return MW_E_CRC;
    f->node_id = buf[1];
    f->encoding = buf[2];
    f->count = buf[3];
    f->seq = mw_u32(buf + 4);
    f->t0_us = mw_u64(buf + 8);
    f->payload = buf + MW_HEADER_SIZE;
    f->payload_len = n - MW_OVERHEAD;
    const uint8_t *pl = f->payload;
    size_t plen = f->payload_len;
    switch (f->type) {
    case MW_EMG:
    case MW_IMU: {
        unsigned ch = (f->encoding >> 4) + 1u;
        if ((f->encoding & 0x0F) != 0) return MW_E_FORMAT;
        if (f->type == MW_IMU && ch != 6) return MW_E_FORMAT;
        if (f->count == 0) return MW_E_COUNT;
        return plen == (size_t)f->count * ch * 2 ? MW_OK : MW_E_LENGTH;
    }
    case MW_FOOT:
        if (f->count == 0) return MW_E_COUNT;
        if (plen != (size_t)f->count * 6) return MW_E_LENGTH;
        return f->encoding == 0 ? MW_OK : MW_E_ENCODING;
    default:
        break;
    }
    if (f->count != 0) return MW_E_COUNT;
    if (f->encoding != 0) return MW_E_ENCODING;
    switch (f->type) {
    case MW_STATUS:
        if (plen < 26) return MW_E_LENGTH;
        if (pl[25] > MW_MAX_LABEL || plen != 26u + pl[25]) return MW_E_LENGTH;
        return mw_utf8_valid(pl + 26, pl[25]) ? MW_OK : MW_E_TEXT;
    case MW_SYNC:
        if (plen != 24) return MW_E_LENGTH;
        return mw_u64(pl + 16) == f->t0_us ? MW_OK : MW_E_SYNC_T3;
    case MW_ACK:
        if (plen < 6 || plen > 6 + MW_MAX_MESSAGE) return MW_E_LENGTH;
        return mw_utf8_valid(pl + 6, plen - 6) ? MW_OK : MW_E_TEXT;
    default: /* MW_CMD */
        return check_command(pl, plen);
    }
}

const char *mw_error_name(int err) {
    static const char *names[] = {"ok", "truncated", "oversize", "version", "type", "crc", "format", "count",
                                  "encoding", "length", "sync_t3", "opcode", "reserved", "text"};
    return (err >= 0 && err <= MW_E_TEXT) ? names[err] : "?";
}

size_t mw_encode(uint8_t *buf, size_t cap, uint8_t type, uint8_t node_id, uint8_t encoding, uint8_t count,
                 uint32_t seq, uint64_t t0_us, const uint8_t *payload, size_t payload_len) {
    size_t n = MW_OVERHEAD + payload_len;
    if (n > cap || n > MW_MAX_FRAME) return 0;
    buf[0] = (uint8_t)((MW_VERSION << 4) | type);
    buf[1] = node_id;
    buf[2] = encoding;
    buf[3] = count;
    for (int i = 0; i < 4; i++) buf[4 + i] = (uint8_t)(seq >> (8 * i));
    for (int i = 0; i < 8; i++) buf[8 + i] = (uint8_t)(t0_us >> (8 * i));
    memmove(buf + MW_HEADER_SIZE, payload, payload_len);
    uint16_t c = mw_crc16(buf, n - 2, 0xFFFF);
    buf[n - 2] = (uint8_t)(c & 0xFF);
    buf[n - 1] = (uint8_t)(c >> 8);
    return n;
}

size_t mw_fragment(const uint8_t *frame, size_t n, size_t room, size_t i, uint8_t *out) {
    if (n <= room) {
        if (i) return 0;
        memcpy(out, frame, n);
        return n;
    }
    if (room < 3) return 0;
    size_t step = room - 2, start = i * step;
    if (start >= n) return 0;
    size_t len = n - start < step ? n - start : step;
    out[0] = (uint8_t)(0xF0 | (i == 0 ? 0x01 : 0) | (start + step >= n ? 0x02 : 0));
    out[1] = (uint8_t)(i & 0xFF);
    memcpy(out + 2, frame + start, len);
    return len + 2;
}

void mw_reasm_init(mw_reassembler *r) {
    r->len = 0;
    r->expect = -1;
    r->dropped = 0;
}

size_t mw_reasm_feed(mw_reassembler *r, const uint8_t *note, size_t n, const uint8_t **frame) {
    if (n == 0) return 0;
    if ((note[0] & 0xF0) != 0xF0) { /* a whole frame */
        if (r->expect >= 0) { r->dropped++; r->expect = -1; }
        *frame = note;
        return n;
    }
    if (n < 2) { r->dropped++; r->expect = -1; return 0; }
    size_t body = n - 2;
    if (note[0] & 0x01) { /* FIRST */
        if (r->expect >= 0) r->dropped++;
        r->len = 0;
        r->expect = 1;
    } else if (r->expect < 0 || note[1] != (uint8_t)(r->expect & 0xFF)) {
        if (r->expect >= 0) r->dropped++;
        r->expect = -1;
        return 0;
    } else {
        r->expect++;
    }
    if (r->len + body > MW_MAX_FRAME) { r->dropped++; r->expect = -1; return 0; }
    memcpy(r->buf + r->len, note + 2, body);
    r->len += body;
    if (note[0] & 0x02) { /* LAST */
        r->expect = -1;
        *frame = r->buf;
        return r->len;
    }
    return 0;
}
