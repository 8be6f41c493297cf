/* myowire: C implementation of the myostride wire protocol, version 1.
 *
 * Written from protocol/SPEC.md alone, to show the specification is enough
 * for a C node and to cross-check the Python codec: tests/protocol/
 * test_wire_c.py runs every golden vector through it. No allocation, no
 * dependencies beyond the C99 standard headers; suitable for a node.
 */
#ifndef MYOWIRE_H
#define MYOWIRE_H

#include <stddef.h>
#include <stdint.h>

#define MW_VERSION 1
#define MW_HEADER_SIZE 16
#define MW_OVERHEAD 18
#define MW_MAX_FRAME 1024
#define MW_MAX_LABEL 16
#define MW_MAX_MESSAGE 64

enum mw_type { MW_EMG = 1, MW_IMU, MW_FOOT, MW_STATUS, MW_SYNC, MW_ACK, MW_CMD };
enum mw_opcode { MW_C_START = 1, MW_C_STOP, MW_C_CONFIGURE, MW_C_SYNC, MW_C_RESEND, MW_C_STATUS, MW_C_IDENTIFY, MW_C_REBOOT };

/* Why a frame was rejected (SPEC.md section 13, in the order the rules apply). */
enum mw_error {
    MW_OK = 0,
    MW_E_TRUNCATED,  /* shorter than 18 bytes */
    MW_E_OVERSIZE,   /* longer than 1024 bytes */
    MW_E_VERSION,    /* version nibble is not 1 */
    MW_E_TYPE,       /* type not 1-7 */
    MW_E_CRC,        /* CRC mismatch */
    MW_E_FORMAT,     /* sample format not int16, or IMU without 6 channels */
    MW_E_COUNT,      /* zero samples/events, or non-zero count where it must be 0 */
    MW_E_ENCODING,   /* non-zero encoding byte where it must be 0 */
    MW_E_LENGTH,     /* payload length does not match the header / type */
    MW_E_SYNC_T3,    /* time-sync reply whose t0_us is not its t3_us */
    MW_E_OPCODE,     /* unknown command opcode */
    MW_E_RESERVED,   /* configure reserved byte not 0 */
    MW_E_TEXT        /* label or message not well-formed UTF-8 */
};

typedef struct {
    uint8_t type, node_id, encoding, count;
    uint32_t seq;
    uint64_t t0_us;
    const uint8_t *payload; /* points into the checked buffer */
    size_t payload_len;
} mw_frame;

uint16_t mw_crc16(const uint8_t *p, size_t n, uint16_t crc); /* start with crc = 0xFFFF */
int mw_check(const uint8_t *buf, size_t n, mw_frame *out);   /* MW_OK or an mw_error */
const char *mw_error_name(int err);
int mw_utf8_valid(const uint8_t *p, size_t n);

/* Little-endian field access. */
uint16_t mw_u16(const uint8_t *p);
uint32_t mw_u32(const uint8_t *p);
uint64_t mw_u64(const uint8_t *p);
int16_t mw_i16(const uint8_t *p);

/* Build a frame in buf (cap bytes): header, payload copy, CRC. Returns its length, 0 if it does not fit. */
size_t mw_encode(uint8_t *buf, size_t cap, uint8_t type, uint8_t node_id, uint8_t encoding, uint8_t count,
                 uint32_t seq, uint64_t t0_us, const uint8_t *payload, size_t payload_len);

/* Fragment i of a frame for notifications of `room` (= MTU - 3) bytes; returns its length (0 past the end).
 * A frame that fits in one notification is returned whole as fragment 0. */
size_t mw_fragment(const uint8_t *frame, size_t n, size_t room, size_t i, uint8_t *out);

/* Reassembly state machine of SPEC.md section 11. */
typedef struct {
    uint8_t buf[MW_MAX_FRAME];
    size_t len;
    int expect; /* next fragment index, -1 when idle */
    unsigned long dropped;
} mw_reassembler;

void mw_reasm_init(mw_reassembler *r);
/* Feed one notification; returns the length of a complete frame (its bytes in *frame) or 0. */
size_t mw_reasm_feed(mw_reassembler *r, const uint8_t *note, size_t n, const uint8_t **frame);

#endif
