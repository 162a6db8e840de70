/*
 * fw_sim.c - firmware-in-the-loop harness: runs the unmodified firmware .elf (ATmega328P, 16 MHz)
 * in libsimavr with four simulated HX711s on its pins, captures the UART output and feeds host
 * commands in.
 *
 * Wiring simulated (Uno / Nano build): PD_SCK of all four chips on PB0 (D8); DOUT of chips
 * fl, fr, bl, br on PD4..PD7 (D4..D7); UART0 is the USB-serial link.
 *
 * usage: fw_sim --elf FILE [options]
 *   --seconds S          simulated time to run (default 1)
 *   --rate SPS           HX711 nominal conversion rate (default 80)
 *   --skew-ppm a,b,c,d   per-chip oscillator error in ppm (default 0,0,0,0)
 *   --phase a,b,c,d      first data-ready of each chip, in conversion periods (default .1,.3,.5,.7)
 *   --loads FILE         counts per conversion: one line per conversion index, 4 integers
 *                        (fl fr bl br, '#' comments); cycled; values beyond 24 bits saturate
 *   --pattern NAME       instead of --loads: "ramp" (distinct value per chip and conversion,
 *                        spanning the whole 24-bit range) or "const:V"
 *   --stall CH:T0:T1     chip CH (0..3) gives no data-ready from T0 to T1 seconds
 *   --saturate CH:T0:T1  chip CH's input is beyond full scale from T0 to T1 seconds
 *   --cmd T:HEX          send bytes HEX to the board's UART at T seconds (repeatable)
 *   --cmd-file FILE      the same from a file: one "T HEX" per line ('#' comments)
 *   --uart-out FILE      write every byte the firmware transmits (default: discard)
 *   --reads FILE         log every completed read-out: "chip index value cycle"
 *   --report FILE        JSON summary (default: stdout), including the shortest and longest
 *                        clock high and low phases seen during read-outs ("clock_high_us", ...)
 *   --profile FILE       write "pc_byte_address cycles" for every instruction address (profiling)
 *   --peek ADDR          add the u32 at data address ADDR (hex, as avr-nm prints it, e.g.
 *                        00800158) to the summary as "peek" (debugging aid; repeatable)
 *
 * Exit status: 0 on success; 1 on an HX711 timing violation (clock high < 0.2 us or > 50 us, clock
 * low < 0.2 us within a read-out), with a message on stderr; 2 on bad arguments or firmware.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_cycle_timers.h>
#include <sim_elf.h>
#include <sim_irq.h>
#include <sim_time.h>

#include "hx711_model.h"

#define N_CHIPS 4
#define MAX_CMDS 64
#define SCK_PORT 'B'
#define SCK_PIN 0
#define DOUT_PORT 'D'
#define DOUT_FIRST_PIN 4

/* HX711 PD_SCK limits (datasheet T3/T4 and power-down) */
#define CLK_MIN_NS 200.0
#define CLK_HIGH_MAX_US 50.0
#define POWER_DOWN_US 60.0

typedef struct {
    avr_cycle_count_t at;
    uint8_t bytes[256];
    int n;
} host_cmd_t;

typedef struct {
    int64_t (*rows)[N_CHIPS];
    size_t n_rows;
    int64_t constant;
    int mode; /* 0 = file, 1 = ramp, 2 = const */
} loads_t;

static avr_t *avr;
static hx711_t chips[N_CHIPS];
static loads_t loads;
static host_cmd_t cmds[MAX_CMDS];
static int n_cmds;
static FILE *uart_out;
static uint64_t uart_bytes;
static avr_irq_t *uart_in;
static avr_cycle_count_t sck_rise, sck_fall;
static int sck_level;
static uint64_t violations;
static avr_cycle_count_t high_min = ~(avr_cycle_count_t)0, high_max, low_min = ~(avr_cycle_count_t)0, low_max;
static char first_violation[256];
static uint32_t peeks[8];
static int n_peeks;

static int64_t load_counts(int chip, uint64_t index, void *param)
{
    loads_t *l = (loads_t *)param;
    if (l->mode == 1) {
        /* distinct per chip and conversion, wraps through the full signed 24-bit range */
        uint32_t v = (uint32_t)(index * 104729u + (uint64_t)chip * 2097152u + 12345u) & 0xFFFFFFu;
        return (int64_t)(int32_t)(v << 8) >> 8;
    }
    if (l->mode == 2) {
        return l->constant;
    }
    return l->rows[index % l->n_rows][chip];
}

static double cycles_to_us(avr_cycle_count_t c)
{
    return (double)c * 1e6 / (double)avr->frequency;
}

static void violation(const char *what, double value_us)
{
    violations++;
    if (violations == 1) {
        snprintf(first_violation, sizeof first_violation,
                 "HX711 timing violation at t=%.6f s: %s (%.3f us)",
                 cycles_to_us(avr->cycle) * 1e-6, what, value_us);
    }
}

static avr_cycle_count_t power_down_all(avr_t *a, avr_cycle_count_t when, void *param)
{
    int i;
    (void)a;
    (void)when;
    (void)param;
    for (i = 0; i < N_CHIPS; i++) {
        hx711_power_down(&chips[i]);
    }
    return 0;
}

static void sck_changed(avr_irq_t *irq, uint32_t value, void *param)
{
    int i;
    int in_readout = 0;
    (void)irq;
    (void)param;
    value = value ? 1 : 0;
    if ((int)value == sck_level) {
        return;
    }
    sck_level = (int)value;
    for (i = 0; i < N_CHIPS; i++) {
        in_readout |= chips[i].state == HX_SHIFTING || chips[i].state == HX_READY;
    }
    if (value) {
        double low_us = cycles_to_us(avr->cycle - sck_fall);
        if (in_readout && sck_fall) {
            avr_cycle_count_t low = avr->cycle - sck_fall;
            if (low_us * 1e3 < CLK_MIN_NS) {
                violation("clock low shorter than 0.2 us", low_us);
            }
            if (low < low_min) {
                low_min = low;
            }
            if (low > low_max && low_us < 1000.0) { /* within a read-out, not between frames */
                low_max = low;
            }
        }
        sck_rise = avr->cycle;
        avr_cycle_timer_register_usec(avr, (uint32_t)POWER_DOWN_US, power_down_all, NULL);
        for (i = 0; i < N_CHIPS; i++) {
            hx711_clock_rise(&chips[i]);
        }
    } else {
        double high_us = cycles_to_us(avr->cycle - sck_rise);
        avr_cycle_timer_cancel(avr, power_down_all, NULL);
        if (avr->cycle - sck_rise < high_min) {
            high_min = avr->cycle - sck_rise;
        }
        if (avr->cycle - sck_rise > high_max) {
            high_max = avr->cycle - sck_rise;
        }
        if (high_us * 1e3 < CLK_MIN_NS) {
            violation("clock high shorter than 0.2 us", high_us);
        } else if (high_us > CLK_HIGH_MAX_US) {
            violation("clock high longer than 50 us", high_us);
        }
        sck_fall = avr->cycle;
        for (i = 0; i < N_CHIPS; i++) {
            hx711_clock_fall(&chips[i]);
        }
    }
}

static void uart_byte_out(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    uart_bytes++;
    if (uart_out) {
        fputc((int)(value & 0xFF), uart_out);
    }
}

static avr_cycle_count_t send_cmd(avr_t *a, avr_cycle_count_t when, void *param)
{
    host_cmd_t *c = (host_cmd_t *)param;
    int i;
    (void)a;
    (void)when;
    for (i = 0; i < c->n; i++) {
        avr_raise_irq(uart_in, c->bytes[i]);
    }
    return 0;
}

/* Raw mode would usleep() while the AVR sleeps, throttling to real time: run flat out instead. */
static void no_sleep(avr_t *a, avr_cycle_count_t how_long)
{
    (void)a;
    (void)how_long;
}

static int parse_list(const char *s, double out[N_CHIPS])
{
    return sscanf(s, "%lf,%lf,%lf,%lf", &out[0], &out[1], &out[2], &out[3]) == N_CHIPS;
}

static int parse_window(const char *s, int *chip, double *t0, double *t1)
{
    return sscanf(s, "%d:%lf:%lf", chip, t0, t1) == 3 && *chip >= 0 && *chip < N_CHIPS && *t0 < *t1;
}

static int read_loads(const char *path, loads_t *l)
{
    char line[512];
    size_t cap = 1024;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        return 0;
    }
    l->rows = malloc(cap * sizeof *l->rows);
    l->n_rows = 0;
    while (fgets(line, sizeof line, fp)) {
        long long v[N_CHIPS];
        if (line[0] == '#' || sscanf(line, "%lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3]) != 4) {
            continue;
        }
        if (l->n_rows == cap) {
            cap *= 2;
            l->rows = realloc(l->rows, cap * sizeof *l->rows);
        }
        memcpy(l->rows[l->n_rows++], v, sizeof v);
    }
    fclose(fp);
    return l->n_rows > 0;
}

static int add_cmd(const char *arg)
{
    host_cmd_t *c;
    double t;
    const char *hex = strchr(arg, ':');
    size_t i, n;
    if (n_cmds == MAX_CMDS || !hex || sscanf(arg, "%lf", &t) != 1) {
        return 0;
    }
    hex++;
    n = strlen(hex) / 2;
    if (n == 0 || n > sizeof cmds[0].bytes || strlen(hex) % 2) {
        return 0;
    }
    c = &cmds[n_cmds++];
    c->at = (avr_cycle_count_t)(t * 16e6);
    c->n = (int)n;
    for (i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return 0;
        }
        c->bytes[i] = (uint8_t)v;
    }
    return 1;
}

static int read_cmd_file(const char *path)
{
    char line[600], arg[620];
    double t;
    char hex[520];
    FILE *fp = fopen(path, "r");
    if (!fp) {
        return 0;
    }
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || sscanf(line, "%lf %519s", &t, hex) != 2) {
            continue;
        }
        snprintf(arg, sizeof arg, "%.9f:%s", t, hex);
        if (!add_cmd(arg)) {
            fclose(fp);
            return 0;
        }
    }
    fclose(fp);
    return 1;
}

/* libsimavr logs to stdout, where the JSON summary goes: keep warnings and errors, on stderr. */
static void sim_logger(avr_t *a, const int level, const char *format, va_list ap)
{
    (void)a;
    if (level <= LOG_WARNING) {
        vfprintf(stderr, format, ap);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: fw_sim --elf FILE [--seconds S] [--rate SPS] [--skew-ppm a,b,c,d] "
                    "[--phase a,b,c,d] [--loads FILE | --pattern ramp|const:V] [--stall CH:T0:T1] "
                    "[--saturate CH:T0:T1] [--cmd T:HEX]... [--cmd-file FILE] [--uart-out FILE] [--reads FILE] "
                    "[--report FILE]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"elf", required_argument, 0, 'e'},      {"seconds", required_argument, 0, 's'},
        {"rate", required_argument, 0, 'r'},     {"skew-ppm", required_argument, 0, 'k'},
        {"phase", required_argument, 0, 'p'},    {"loads", required_argument, 0, 'l'},
        {"pattern", required_argument, 0, 'P'},  {"stall", required_argument, 0, 'S'},
        {"saturate", required_argument, 0, 'X'}, {"cmd", required_argument, 0, 'c'},
        {"uart-out", required_argument, 0, 'u'}, {"reads", required_argument, 0, 'R'},
        {"report", required_argument, 0, 'o'},   {"peek", required_argument, 0, 'K'},
        {"profile", required_argument, 0, 'F'},  {"cmd-file", required_argument, 0, 'C'},
        {0, 0, 0, 0}};
    const char *profile_path = NULL;
    uint64_t *profile = NULL;
    const char *elf_path = NULL, *uart_path = NULL, *reads_path = NULL, *report_path = NULL;
    double seconds = 1.0, rate = 80.0;
    double skew[N_CHIPS] = {0, 0, 0, 0}, phase[N_CHIPS] = {0.1, 0.3, 0.5, 0.7};
    double win_t0, win_t1;
    int win_chip, opt, i, have_loads = 0;
    double stall[N_CHIPS][2] = {{0}}, saturate[N_CHIPS][2] = {{0}};
    elf_firmware_t fw;
    avr_cycle_count_t end;
    FILE *reads_log = NULL, *report;
    uint32_t uart_flags = 0;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'e': elf_path = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'k': if (!parse_list(optarg, skew)) { usage(); return 2; } break;
        case 'p': if (!parse_list(optarg, phase)) { usage(); return 2; } break;
        case 'l':
            if (!read_loads(optarg, &loads)) {
                fprintf(stderr, "fw_sim: cannot read loads from %s\n", optarg);
                return 2;
            }
            loads.mode = 0;
            have_loads = 1;
            break;
        case 'P':
            if (strcmp(optarg, "ramp") == 0) {
                loads.mode = 1;
            } else if (strncmp(optarg, "const:", 6) == 0) {
                loads.mode = 2;
                loads.constant = strtoll(optarg + 6, NULL, 10);
            } else {
                usage();
                return 2;
            }
            have_loads = 1;
            break;
        case 'S':
        case 'X':
            if (!parse_window(optarg, &win_chip, &win_t0, &win_t1)) { usage(); return 2; }
            (opt == 'S' ? stall : saturate)[win_chip][0] = win_t0;
            (opt == 'S' ? stall : saturate)[win_chip][1] = win_t1;
            break;
        case 'c':
            if (!add_cmd(optarg)) {
                fprintf(stderr, "fw_sim: bad --cmd %s (want T:HEX)\n", optarg);
                return 2;
            }
            break;
        case 'C':
            if (!read_cmd_file(optarg)) {
                fprintf(stderr, "fw_sim: bad --cmd-file %s (want lines \"T HEX\")\n", optarg);
                return 2;
            }
            break;
        case 'u': uart_path = optarg; break;
        case 'R': reads_path = optarg; break;
        case 'o': report_path = optarg; break;
        case 'F': profile_path = optarg; break;
        case 'K':
            if (n_peeks == 8) { usage(); return 2; }
            peeks[n_peeks++] = (uint32_t)strtoul(optarg, NULL, 16) & 0xFFFFu;
            break;
        default: usage(); return 2;
        }
    }
    if (!elf_path || seconds <= 0 || rate <= 0) {
        usage();
        return 2;
    }
    if (!have_loads) {
        loads.mode = 1;
    }

    avr_global_logger_set(sim_logger);
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf_path, &fw) != 0) {
        fprintf(stderr, "fw_sim: cannot load firmware %s\n", elf_path);
        return 2;
    }
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        fprintf(stderr, "fw_sim: simavr has no atmega328p core\n");
        return 2;
    }
    avr_init(avr);
    avr->frequency = 16000000;
    avr->sleep = no_sleep;
    avr->log = 0;
    avr_load_firmware(avr, &fw);
    avr->frequency = 16000000; /* the .elf may carry no mmcu section: the Uno runs at 16 MHz */

    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &uart_flags); /* no console echo */
    uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
                            uart_byte_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(SCK_PORT), SCK_PIN),
                            sck_changed, NULL);

    if (uart_path && !(uart_out = fopen(uart_path, "wb"))) {
        fprintf(stderr, "fw_sim: cannot write %s\n", uart_path);
        return 2;
    }
    if (reads_path && !(reads_log = fopen(reads_path, "w"))) {
        fprintf(stderr, "fw_sim: cannot write %s\n", reads_path);
        return 2;
    }
    for (i = 0; i < N_CHIPS; i++) {
        hx711_t *hx = &chips[i];
        memset(hx, 0, sizeof *hx);
        hx711_init(hx, avr, i,
                   avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(DOUT_PORT), DOUT_FIRST_PIN + i),
                   rate, skew[i], phase[i], load_counts, &loads);
        hx->stall_start = (avr_cycle_count_t)(stall[i][0] * 16e6);
        hx->stall_end = (avr_cycle_count_t)(stall[i][1] * 16e6);
        hx->saturate_start = (avr_cycle_count_t)(saturate[i][0] * 16e6);
        hx->saturate_end = (avr_cycle_count_t)(saturate[i][1] * 16e6);
        hx->reads_log = reads_log;
    }
    for (i = 0; i < n_cmds; i++) {
        avr_cycle_timer_register(avr, cmds[i].at ? cmds[i].at : 1, send_cmd, &cmds[i]);
    }

    end = (avr_cycle_count_t)(seconds * 16e6);
    if (profile_path) {
        profile = calloc(32768, sizeof *profile);
    }
    while (avr->cycle < end && violations == 0) {
        avr_flashaddr_t pc = avr->pc;
        avr_cycle_count_t before = avr->cycle;
        int state = avr_run(avr);
        if (profile && pc < 32768 && avr->state == cpu_Running) {
            profile[pc] += avr->cycle - before;
        }
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "fw_sim: firmware stopped (state %d) at cycle %" PRIu64 "\n", state,
                    (uint64_t)avr->cycle);
            return 2;
        }
    }

    report = report_path ? fopen(report_path, "w") : stdout;
    if (!report) {
        fprintf(stderr, "fw_sim: cannot write %s\n", report_path);
        return 2;
    }
    if (high_max == 0) {
        high_min = low_min = 0;
    }
    fprintf(report, "{\"seconds\": %.6f, \"cycles\": %" PRIu64 ", \"uart_bytes\": %" PRIu64
                    ", \"violations\": %" PRIu64 ", \"clock_high_us\": [%.4f, %.4f]"
                    ", \"clock_low_us\": [%.4f, %.4f], \"chips\": [",
            cycles_to_us(avr->cycle) * 1e-6, (uint64_t)avr->cycle, uart_bytes, violations,
            cycles_to_us(high_min), cycles_to_us(high_max), cycles_to_us(low_min),
            cycles_to_us(low_max));
    for (i = 0; i < N_CHIPS; i++) {
        hx711_t *hx = &chips[i];
        fprintf(report, "%s{\"conversions\": %" PRIu64 ", \"reads\": %" PRIu64
                        ", \"overwritten\": %" PRIu64 ", \"busy_pulses\": %" PRIu64
                        ", \"powerdowns\": %" PRIu64 ", \"wrong_gain_reads\": %" PRIu64
                        ", \"period_cycles\": %" PRIu64 "}",
                i ? ", " : "", hx->conversions, hx->reads, hx->overwritten, hx->busy_pulses,
                hx->powerdowns, hx->wrong_gain_reads, (uint64_t)hx->period_cycles);
    }
    fprintf(report, "], \"peek\": [");
    for (i = 0; i < n_peeks; i++) {
        const uint8_t *d = avr->data + peeks[i];
        fprintf(report, "%s%lu", i ? ", " : "",
                (unsigned long)(d[0] | (d[1] << 8) | ((uint32_t)d[2] << 16) | ((uint32_t)d[3] << 24)));
    }
    fprintf(report, "]}\n");
    if (report != stdout) {
        fclose(report);
    }
    if (uart_out) {
        fclose(uart_out);
    }
    if (reads_log) {
        fclose(reads_log);
    }
    if (profile) {
        FILE *pf = fopen(profile_path, "w");
        for (i = 0; pf && i < 32768; i++) {
            if (profile[i]) {
                fprintf(pf, "%d %" PRIu64 "\n", i, profile[i]);
            }
        }
        if (pf) {
            fclose(pf);
        }
    }
    if (violations) {
        fprintf(stderr, "fw_sim: %s\n", first_violation);
        return 1;
    }
    return 0;
}
