/*
 * bs_frame.h - Balance Station wire-protocol frame encoder and command parser.
 *
 * Pure C99, header-only, no allocation, no I/O: the same code is compiled by avr-gcc into the
 * firmware (hardware/firmware) and by the host gcc into the test program (hardware/test), which
 * checks it byte for byte against hardware/vectors/frames.tsv. hardware/PROTOCOL.md and
 * station/board/protocol.py are normative; this header follows them.
 *
 * Frame, both directions:
 *     A5 5A | LEN u8 | TYPE u8 | payload (LEN bytes, little-endian fields) | CRC16 u16 LE
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out) over LEN, TYPE and
 * the payload. Check value: bs_crc16("123456789", 9) == 0x29B1.
 */
#ifndef BS_FRAME_H
#define BS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define BS_SYNC0 0xA5u
#define BS_SYNC1 0x5Au
#define BS_OVERHEAD 6u /* sync(2) + len + type + crc(2) */

#define BS_PROTOCOL_MAJOR 1u
#define BS_PROTOCOL_MINOR 0u

/* board -> host */
#define BS_TYPE_DATA 0x01u
#define BS_TYPE_INFO 0x02u
#define BS_TYPE_ACK 0x03u
/* host -> board */
#define BS_CMD_START 0x10u
#define BS_CMD_STOP 0x11u
#define BS_CMD_INFO 0x12u
#define BS_CMD_SET_BOARD_ID 0x13u

#define BS_ACK_OK 0u
#define BS_ACK_UNSUPPORTED 1u
#define BS_ACK_BAD_PAYLOAD 2u

#define BS_ADC_HX711 1u

#define BS_N_CHANNELS 4u
#define BS_DATA_PAYLOAD_SIZE 24u
#define BS_DATA_FRAME_SIZE (BS_DATA_PAYLOAD_SIZE + BS_OVERHEAD) /* 30 */
#define BS_INFO_PAYLOAD_SIZE 13u
#define BS_INFO_FRAME_SIZE (BS_INFO_PAYLOAD_SIZE + BS_OVERHEAD) /* 19 */
#define BS_ACK_PAYLOAD_SIZE 2u
#define BS_ACK_FRAME_SIZE (BS_ACK_PAYLOAD_SIZE + BS_OVERHEAD) /* 8 */

/* Status byte: bit i = channel i at a 24-bit rail; bit 4+i = channel i timed out. */
#define BS_STATUS_SATURATED(ch) ((uint8_t)(1u << (ch)))
#define BS_STATUS_TIMEOUT(ch) ((uint8_t)(0x10u << (ch)))
#define BS_COUNT_MAX ((int32_t)0x7FFFFF)
#define BS_COUNT_MIN ((int32_t)-0x800000)

/* Command payload bytes the parser keeps (set-board-id needs 4); longer payloads are CRC-checked
 * and reported with `truncated` set, so that unknown commands can still be answered. */
#ifndef BS_CMD_MAX_PAYLOAD
#define BS_CMD_MAX_PAYLOAD 16u
#endif

/* One CRC-16/CCITT-FALSE step, table-free (about 20 AVR cycles per byte). */
static inline uint16_t bs_crc16_update(uint16_t crc, uint8_t byte)
{
    uint16_t x = (uint16_t)(((crc >> 8) ^ byte) & 0xFFu);
    x ^= x >> 4;
    return (uint16_t)((crc << 8) ^ (x << 12) ^ (x << 5) ^ x);
}

static inline uint16_t bs_crc16(const uint8_t *data, size_t n)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    for (i = 0; i < n; i++) {
        crc = bs_crc16_update(crc, data[i]);
    }
    return crc;
}

static inline void bs_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void bs_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t bs_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Write header and CRC around a payload already placed at out[4..4+len). Returns the frame size. */
static inline size_t bs_finish_frame(uint8_t *out, uint8_t type, uint8_t len)
{
    out[0] = BS_SYNC0;
    out[1] = BS_SYNC1;
    out[2] = len;
    out[3] = type;
    bs_put_u16(out + 4 + len, bs_crc16(out + 2, (size_t)len + 2u));
    return (size_t)len + BS_OVERHEAD;
}

/*
 * Data frame (30 bytes): u16 seq, u32 t_us, 4 x i32 counts (fl, fr, bl, br), u8 status,
 * u8 missed conversions since the previous frame (the caller saturates it at 255).
 */
static inline size_t bs_encode_data(uint8_t out[BS_DATA_FRAME_SIZE], uint16_t seq, uint32_t t_us,
                                    const int32_t counts[BS_N_CHANNELS], uint8_t status,
                                    uint8_t missed)
{
    uint8_t *p = out + 4;
    unsigned ch;
    bs_put_u16(p, seq);
    bs_put_u32(p + 2, t_us);
    for (ch = 0; ch < BS_N_CHANNELS; ch++) {
        bs_put_u32(p + 6 + 4 * ch, (uint32_t)counts[ch]);
    }
    p[22] = status;
    p[23] = missed;
    return bs_finish_frame(out, BS_TYPE_DATA, BS_DATA_PAYLOAD_SIZE);
}

typedef struct {
    uint8_t protocol_major;
    uint8_t protocol_minor;
    uint8_t fw_major;
    uint8_t fw_minor;
    uint8_t fw_patch;
    uint32_t board_id;
    uint8_t adc_kind; /* 1 = HX711, 2 = ADS131M04, 3 = ADS1256, 0x7F = virtual */
    uint16_t nominal_rate_hz;
    uint8_t channels;
} bs_info_t;

/* Info frame (19 bytes): u8 proto major/minor, u8 fw major/minor/patch, u32 board id,
 * u8 adc kind, u16 nominal rate (Hz), u8 channel count. */
static inline size_t bs_encode_info(uint8_t out[BS_INFO_FRAME_SIZE], const bs_info_t *info)
{
    uint8_t *p = out + 4;
    p[0] = info->protocol_major;
    p[1] = info->protocol_minor;
    p[2] = info->fw_major;
    p[3] = info->fw_minor;
    p[4] = info->fw_patch;
    bs_put_u32(p + 5, info->board_id);
    p[9] = info->adc_kind;
    bs_put_u16(p + 10, info->nominal_rate_hz);
    p[12] = info->channels;
    return bs_finish_frame(out, BS_TYPE_INFO, BS_INFO_PAYLOAD_SIZE);
}

/* Ack frame (8 bytes): u8 command acknowledged, u8 result (BS_ACK_*). */
static inline size_t bs_encode_ack(uint8_t out[BS_ACK_FRAME_SIZE], uint8_t command, uint8_t result)
{
    out[4] = command;
    out[5] = result;
    return bs_finish_frame(out, BS_TYPE_ACK, BS_ACK_PAYLOAD_SIZE);
}

/*
 * Incremental parser for host -> board frames. Feed bytes one at a time; bs_parser_feed returns 1
 * when a complete frame with a valid CRC has arrived (then p->type, p->len and p->payload hold it),
 * 0 otherwise. It resynchronises on the sync word after a bad CRC or noise and counts CRC
 * failures. Only the first BS_CMD_MAX_PAYLOAD payload bytes are kept (p->truncated is then set).
 */
typedef struct {
    uint8_t state;
    uint8_t len;
    uint8_t type;
    uint8_t pos;
    uint16_t crc;
    uint8_t crc_lo;
    uint8_t truncated; /* payload longer than the buffer: only its start is kept */
    uint16_t crc_errors;
    uint8_t payload[BS_CMD_MAX_PAYLOAD];
} bs_parser_t;

enum { BS_P_SYNC0 = 0, BS_P_SYNC1, BS_P_LEN, BS_P_TYPE, BS_P_PAYLOAD, BS_P_CRC0, BS_P_CRC1 };

static inline void bs_parser_init(bs_parser_t *p)
{
    size_t i;
    p->state = BS_P_SYNC0;
    p->len = p->type = p->pos = p->crc_lo = p->truncated = 0;
    p->crc = 0xFFFFu;
    p->crc_errors = 0;
    for (i = 0; i < BS_CMD_MAX_PAYLOAD; i++) {
        p->payload[i] = 0;
    }
}

static inline int bs_parser_feed(bs_parser_t *p, uint8_t b)
{
    switch (p->state) {
    case BS_P_SYNC0:
        if (b == BS_SYNC0) {
            p->state = BS_P_SYNC1;
        }
        return 0;
    case BS_P_SYNC1:
        p->state = (b == BS_SYNC1) ? BS_P_LEN : (b == BS_SYNC0 ? BS_P_SYNC1 : BS_P_SYNC0);
        return 0;
    case BS_P_LEN:
        p->len = b;
        p->truncated = (uint8_t)(b > BS_CMD_MAX_PAYLOAD);
        p->crc = bs_crc16_update(0xFFFFu, b);
        p->state = BS_P_TYPE;
        return 0;
    case BS_P_TYPE:
        p->type = b;
        p->crc = bs_crc16_update(p->crc, b);
        p->pos = 0;
        p->state = p->len ? BS_P_PAYLOAD : BS_P_CRC0;
        return 0;
    case BS_P_PAYLOAD:
        if (p->pos < BS_CMD_MAX_PAYLOAD) {
            p->payload[p->pos] = b;
        }
        p->crc = bs_crc16_update(p->crc, b);
        if (++p->pos == p->len) {
            p->state = BS_P_CRC0;
        }
        return 0;
    case BS_P_CRC0:
        p->crc_lo = b;
        p->state = BS_P_CRC1;
        return 0;
    default: /* BS_P_CRC1 */
        p->state = BS_P_SYNC0;
        if ((uint16_t)(p->crc_lo | ((uint16_t)b << 8)) != p->crc) {
            p->crc_errors++;
            return 0;
        }
        return 1;
    }
}

#endif /* BS_FRAME_H */
