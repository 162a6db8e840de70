/*
 * frame_vectors.c - host test program for hardware/include/bs_frame.h.
 *
 * Usage: frame_vectors FRAMES.TSV
 *
 * Reads the shared test vectors (hardware/vectors/frames.tsv), re-encodes every "data" and "info"
 * row from its decoded fields with the firmware's encoder and prints one line per row:
 *     <kind> TAB <name> TAB <hex of the encoded frame>
 * Every "cmd" row's hex is fed byte by byte (behind two bytes of noise) through the firmware's
 * command parser, which prints:
 *     cmd TAB <name> TAB <type> TAB <payload length> TAB <u32 argument or "-">
 * and finally "crc_check TAB <crc16("123456789") in hex>".
 * The comparison with the expected bytes is done by tests/hardware/test_encoder.py, so this
 * program only reports what the encoder produced. Exit status 2 on unreadable input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_frame.h"

#define MAX_FIELDS 16

static int split_tabs(char *line, char **fields)
{
    int n = 0;
    char *p = line;
    fields[n++] = p;
    while (*p && n < MAX_FIELDS) {
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        } else if (*p == '\n' || *p == '\r') {
            *p = '\0';
            break;
        }
        p++;
    }
    return n;
}

static void print_hex(const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        printf("%02x", b[i]);
    }
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2, i;
    if (n > cap) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    return (int)n;
}

int main(int argc, char **argv)
{
    char line[1024];
    char *f[MAX_FIELDS];
    uint8_t frame[300];
    FILE *fp;
    static const uint8_t check[] = "123456789";

    if (argc != 2 || !(fp = fopen(argv[1], "r"))) {
        fprintf(stderr, "usage: frame_vectors FRAMES.TSV (cannot open input)\n");
        return 2;
    }
    while (fgets(line, sizeof line, fp)) {
        int n;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        n = split_tabs(line, f);
        if (strcmp(f[0], "data") == 0 && n >= 11) {
            int32_t counts[4];
            int ch;
            size_t len;
            for (ch = 0; ch < 4; ch++) {
                counts[ch] = (int32_t)strtol(f[4 + ch], NULL, 10);
            }
            len = bs_encode_data(frame, (uint16_t)strtoul(f[2], NULL, 10),
                                 (uint32_t)strtoul(f[3], NULL, 10), counts,
                                 (uint8_t)strtoul(f[8], NULL, 10), (uint8_t)strtoul(f[9], NULL, 10));
            printf("data\t%s\t", f[1]);
            print_hex(frame, len);
            printf("\n");
        } else if (strcmp(f[0], "info") == 0 && n >= 10) {
            bs_info_t info;
            size_t len;
            unsigned a = 0, b = 0, c = 0;
            sscanf(f[4], "%u.%u.%u", &a, &b, &c);
            info.protocol_major = (uint8_t)strtoul(f[2], NULL, 10);
            info.protocol_minor = (uint8_t)strtoul(f[3], NULL, 10);
            info.fw_major = (uint8_t)a;
            info.fw_minor = (uint8_t)b;
            info.fw_patch = (uint8_t)c;
            info.board_id = (uint32_t)strtoul(f[5], NULL, 10);
            info.adc_kind = (uint8_t)strtoul(f[6], NULL, 10);
            info.nominal_rate_hz = (uint16_t)strtoul(f[7], NULL, 10);
            info.channels = (uint8_t)strtoul(f[8], NULL, 10);
            len = bs_encode_info(frame, &info);
            printf("info\t%s\t", f[1]);
            print_hex(frame, len);
            printf("\n");
        } else if (strcmp(f[0], "cmd") == 0 && n >= 5) {
            bs_parser_t parser;
            int nb = hex_to_bytes(f[n - 1], frame + 2, sizeof frame - 2), i, got = 0;
            if (nb < 0) {
                fprintf(stderr, "bad hex in row %s\n", f[1]);
                return 2;
            }
            frame[0] = 0x00; /* noise before the frame: the parser must resync */
            frame[1] = BS_SYNC0;
            bs_parser_init(&parser);
            for (i = 0; i < nb + 2; i++) {
                if (bs_parser_feed(&parser, frame[i])) {
                    got++;
                    printf("cmd\t%s\t%u\t%u\t", f[1], parser.type, parser.len);
                    if (parser.len == 4) {
                        printf("%lu\n", (unsigned long)bs_get_u32(parser.payload));
                    } else {
                        printf("-\n");
                    }
                }
            }
            if (!got) {
                printf("cmd\t%s\tnone\n", f[1]);
            }
        }
    }
    fclose(fp);
    printf("crc_check\t%04x\n", bs_crc16(check, 9));
    return 0;
}
