/*
 * Balance Station firmware: four HX711 load-cell ADCs -> framed binary stream over USB serial.
 *
 * Wire protocol: hardware/PROTOCOL.md (normative), encoder: hardware/include/bs_frame.h (shared
 * with the host test program). Boards: Uno / Nano (ATmega328P), Leonardo (ATmega32u4, compile-only).
 *
 * The four HX711s share one clock line (SCK); their DOUT lines sit on one port so a single PINx
 * read samples all four bits of a clock pulse. A frame is read when every channel that is not
 * stalled shows data-ready (DOUT low). A pin-change interrupt records each channel's data-ready
 * edge (micros(), 4 us resolution), so timing stays right while the main loop is busy; the frame's
 * timestamp is the data-ready time of the latest of the four conversions it carries. The 25-pulse burst (24 data bits + one
 * pulse selecting channel A, gain 128 for the next conversion) runs with interrupts off so that no
 * interrupt can stretch a clock-high phase towards the 60 us power-down limit; delays are exact
 * cycle counts (delayMicroseconds(1) is a no-op at 16 MHz).
 *
 * Status byte: bit i = channel i at a 24-bit rail (0x7FFFFF / -0x800000); bit 4+i = channel i gave
 * no data-ready within two nominal conversion periods. A timed-out channel repeats its last good
 * count and stops holding back the others until it shows data-ready again. When all four are
 * stalled a frame still goes out once per nominal period, so the host sees a live link.
 * Missed byte (saturating at 255): conversions lost since the previous frame, counted two ways:
 * a conversion read while the serial transmit buffer had no room for its frame (the link is the
 * bottleneck), and conversions the slowest chip (the one setting the frame rate) replaced before
 * they were read (the CPU is the bottleneck): the interval between the data-ready times of its
 * conversions in two frames, in its conversion periods, minus one. Each chip's period is measured
 * when streaming starts (four conversions read and discarded, about 50 ms at 80 SPS). The sequence number counts frames actually sent, so sequence gaps on the
 * host mean bytes lost on the wire.
 */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>

#include "bs_frame.h"

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

#ifndef BS_BAUD
#define BS_BAUD 500000UL
#endif
/* HX711 RATE pin low = 10 SPS, high = 80 SPS (nominal; real chips run a few percent off). */
#ifndef HX711_RATE_HZ
#define HX711_RATE_HZ 80
#endif
#define PERIOD_US (1000000UL / HX711_RATE_HZ)
#define TIMEOUT_US (2UL * PERIOD_US)

/* Clock phase lengths in CPU cycles at 16 MHz (62.5 ns each). HX711: high 0.2..50 us (> 60 us
 * powers the chip down), low >= 0.2 us, DOUT valid 0.1 us after the rising edge. The port
 * instructions add 2 cycles to the high phase and about 9 to the low phase, so the defaults give
 * a 0.625 us high and a 0.8 us low phase (about 36 us for the 25 pulses). Building with
 * HX711_CLK_HIGH_CYCLES=0 gives a 0.125 us pulse, and 1000 a 62.6 us one (power-down): both violate
 * the HX711 timing and are kept as tests of the harness. */
#ifndef HX711_CLK_HIGH_CYCLES
#define HX711_CLK_HIGH_CYCLES 8
#endif
#ifndef HX711_CLK_LOW_CYCLES
#define HX711_CLK_LOW_CYCLES 4
#endif

/* EEPROM layout: u32 board id at address 0 (0xFFFFFFFF = never set). */
#define EEPROM_BOARD_ID ((uint32_t *)0)

#if defined(__AVR_ATmega328P__) || defined(__AVR_ATmega328__) || defined(__AVR_ATmega168__)
/* Uno / Nano: SCK = D8 (PB0); DOUT fl, fr, bl, br = D4, D5, D6, D7 (PD4..PD7). */
#define SCK_DDR DDRB
#define SCK_PORT PORTB
#define SCK_BIT _BV(PB0)
#define DOUT_DDR DDRD
#define DOUT_PORT PORTD
#define DOUT_PIN PIND
#define DOUT_SHIFT 4
#define DRDY_PCINT_ENABLE() (PCMSK2 |= 0xF0, PCICR |= _BV(PCIE2))
#define DRDY_PCINT_VECT PCINT2_vect
#elif defined(__AVR_ATmega32U4__)
/* Leonardo / Micro: SCK = D8 (PB4); DOUT fl, fr, bl, br = A3, A2, A1, A0 (PF4..PF7).
 * PORTF has no pin-change interrupt, so this build polls without sleeping. */
#define SCK_DDR DDRB
#define SCK_PORT PORTB
#define SCK_BIT _BV(PB4)
#define DOUT_DDR DDRF
#define DOUT_PORT PORTF
#define DOUT_PIN PINF
#define DOUT_SHIFT 4
#else
#error "unsupported MCU: add its pin mapping here"
#endif
#define DOUT_MASK ((uint8_t)(0x0F << DOUT_SHIFT))

static bs_parser_t parser;
static uint8_t tx[BS_DATA_FRAME_SIZE];
static bool streaming;
static uint16_t seq;
static uint8_t missed;
static uint8_t stalled;         /* channels (bits 0..3) that timed out and are not waited for */
static uint32_t last_frame_us;  /* data-ready time of the previous frame */
static uint32_t period_us[BS_N_CHANNELS]; /* measured conversion period of each chip */
static uint8_t slowest;         /* the chip with the longest period: it sets the frame rate */
static uint8_t learning;        /* conversions still to read before streaming (4..0) */
static uint32_t learn_interval_us[BS_N_CHANNELS];
static uint32_t learn_edge_us[BS_N_CHANNELS];
static int32_t counts[BS_N_CHANNELS];

/* Channels (bits 0..3) whose DOUT is low, i.e. holding a finished conversion. */
static inline uint8_t ready_channels(void)
{
    return (uint8_t)((~DOUT_PIN & DOUT_MASK) >> DOUT_SHIFT);
}

/* Data-ready edges, per channel: set by the pin-change interrupt when a DOUT line goes low, cleared
 * by each read-out. The Leonardo build has no pin-change interrupt on its DOUT port and uses the
 * time the loop notices the data instead. */
static volatile uint8_t edge_seen;              /* channels (bits 0..3) with an edge since the read */
static volatile uint32_t edge_us[BS_N_CHANNELS];
static uint32_t conversion_us[BS_N_CHANNELS];   /* data-ready time of each channel's last frame */
static uint8_t have_conversion;                 /* channels whose conversion_us is valid */

#ifdef DRDY_PCINT_VECT
ISR(DRDY_PCINT_VECT)
{
    uint8_t fresh = (uint8_t)(ready_channels() & ~edge_seen);
    if (fresh) {
        uint32_t t = micros();
        uint8_t ch;
        for (ch = 0; ch < BS_N_CHANNELS; ch++) {
            if (fresh & (1u << ch)) {
                edge_us[ch] = t;
            }
        }
        edge_seen |= fresh;
    }
}
#endif

/*
 * Clock 24 data bits out of all four chips at once, plus a 25th pulse (channel A, gain 128).
 * Only the raw port samples are stored with interrupts off (about 30 us); the bits are
 * de-interleaved afterwards.
 */
static void hx711_read(int32_t out[BS_N_CHANNELS])
{
    uint8_t raw[24];
    uint8_t sreg = SREG;
    uint8_t i, ch;
    cli();
    for (i = 0; i < 24; i++) {
        SCK_PORT |= SCK_BIT;
        __builtin_avr_delay_cycles(HX711_CLK_HIGH_CYCLES);
        SCK_PORT &= (uint8_t)~SCK_BIT;
        /* DOUT changes only after a rising edge, so it is sampled early in the low phase. */
        raw[i] = DOUT_PIN;
        __builtin_avr_delay_cycles(HX711_CLK_LOW_CYCLES);
    }
    SCK_PORT |= SCK_BIT;
    __builtin_avr_delay_cycles(HX711_CLK_HIGH_CYCLES);
    SCK_PORT &= (uint8_t)~SCK_BIT;
    edge_seen = 0; /* all DOUT lines are high again: the next low edge is a new conversion */
    SREG = sreg;

    /* De-interleave byte by byte with 8-bit shifts (about 30 us for the 24 samples). */
    uint8_t bytes[3][BS_N_CHANNELS];
    for (ch = 0; ch < 3; ch++) {
        uint8_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const uint8_t *r = raw + 8 * ch;
        for (i = 0; i < 8; i++) {
            uint8_t v = r[i];
            a0 <<= 1;
            a1 <<= 1;
            a2 <<= 1;
            a3 <<= 1;
            if (v & (1u << DOUT_SHIFT)) a0 |= 1;
            if (v & (2u << DOUT_SHIFT)) a1 |= 1;
            if (v & (4u << DOUT_SHIFT)) a2 |= 1;
            if (v & (8u << DOUT_SHIFT)) a3 |= 1;
        }
        bytes[ch][0] = a0;
        bytes[ch][1] = a1;
        bytes[ch][2] = a2;
        bytes[ch][3] = a3;
    }
    for (ch = 0; ch < BS_N_CHANNELS; ch++) {
        /* MSB first; sign-extend the 24-bit two's complement value */
        out[ch] = (int32_t)(((uint32_t)(bytes[0][ch] & 0x80 ? 0xFF : 0x00) << 24) |
                            ((uint32_t)bytes[0][ch] << 16) | ((uint32_t)bytes[1][ch] << 8) |
                            bytes[2][ch]);
    }
}

static void send_info(void)
{
    bs_info_t info;
    info.protocol_major = BS_PROTOCOL_MAJOR;
    info.protocol_minor = BS_PROTOCOL_MINOR;
    info.fw_major = FW_MAJOR;
    info.fw_minor = FW_MINOR;
    info.fw_patch = FW_PATCH;
    info.board_id = eeprom_read_dword(EEPROM_BOARD_ID);
    info.adc_kind = BS_ADC_HX711;
    info.nominal_rate_hz = HX711_RATE_HZ;
    info.channels = BS_N_CHANNELS;
    Serial.write(tx, bs_encode_info(tx, &info));
}

static void send_ack(uint8_t command, uint8_t result)
{
    Serial.write(tx, bs_encode_ack(tx, command, result));
}

static void handle_command(void)
{
    switch (parser.type) {
    case BS_CMD_START:
        if (!streaming) {
            streaming = true;
            stalled = 0;
            missed = 0;
            learning = 4;
            have_conversion = 0;
            slowest = 0;
            last_frame_us = micros();
        }
        send_ack(parser.type, BS_ACK_OK);
        break;
    case BS_CMD_STOP:
        streaming = false;
        send_ack(parser.type, BS_ACK_OK);
        break;
    case BS_CMD_INFO:
        send_info();
        break;
    case BS_CMD_SET_BOARD_ID:
        if (parser.len == 4) {
            eeprom_update_dword(EEPROM_BOARD_ID, bs_get_u32(parser.payload));
            send_ack(parser.type, BS_ACK_OK);
        } else {
            send_ack(parser.type, BS_ACK_BAD_PAYLOAD);
        }
        break;
    default: /* includes the simulator-only commands 0x40..0x4F */
        send_ack(parser.type, BS_ACK_UNSUPPORTED);
        break;
    }
}

static void add_missed(uint32_t n)
{
    missed = (uint8_t)((uint32_t)missed + n > 255 ? 255 : missed + n);
}

/* Data-ready time of channel `ch`'s waiting conversion, or `now` if its edge was not seen. */
static uint32_t edge_of(uint8_t ch, uint32_t now)
{
    uint32_t t;
    uint8_t sreg = SREG;
    cli();
    t = (edge_seen & (1u << ch)) ? edge_us[ch] : now;
    SREG = sreg;
    return t;
}

/*
 * Measure each chip's conversion period when streaming starts: read and discard four conversions
 * as soon as they are ready (the first may be stale; the firmware is idle, so none is skipped) and
 * keep, per chip, the longer of the last two intervals between its data-ready edges (being
 * overtaken by a faster chip can only shorten one).
 */
static void learn_period(uint32_t now)
{
    int32_t discard[BS_N_CHANNELS];
    uint8_t ch;
    for (ch = 0; ch < BS_N_CHANNELS; ch++) {
        uint32_t e = edge_of(ch, now);
        uint32_t dt = e - learn_edge_us[ch];
        if (learning == 2) {
            learn_interval_us[ch] = dt;
        } else if (learning == 1) {
            period_us[ch] = dt > learn_interval_us[ch] ? dt : learn_interval_us[ch];
            if (period_us[ch] < 100) { /* no usable edges (never expected): fall back to nominal */
                period_us[ch] = PERIOD_US;
            }
            if (period_us[ch] > period_us[slowest]) {
                slowest = ch;
            }
        }
        learn_edge_us[ch] = e;
    }
    hx711_read(discard);
    last_frame_us = now;
    learning--;
}

/*
 * Locate each channel's conversion about to be read, add the slowest chip's conversions lost since
 * the previous frame to `missed`, and return the frame's timestamp (the latest of the four
 * data-ready times). A channel's edge is its first data-ready after the previous read; if the read
 * comes one or more periods later, the chip has replaced that result meanwhile and the one read is
 * edge + n * period. A result lost in any other way (e.g. finishing during a read-out) shows as a
 * gap of more than one period since the channel's previous frame. Faster chips lose a conversion
 * now and then by design (shared clock): that is not counted.
 */
static uint32_t locate_conversions(uint32_t now)
{
    uint32_t latest = 0;
    uint8_t ch;
    for (ch = 0; ch < BS_N_CHANNELS; ch++) {
        uint32_t p = period_us[ch];
        uint32_t t = edge_of(ch, now);
        while (now - t >= p) { /* rarely more than once: no 32-bit division */
            t += p;
        }
        if (ch == slowest && (have_conversion & (1u << ch))) {
            uint32_t gap = t - conversion_us[ch] + p / 2;
            uint32_t k = 0;
            while (gap >= p && k < 256) {
                gap -= p;
                k++;
            }
            if (k > 1) {
                add_missed(k - 1);
            }
        }
        conversion_us[ch] = t;
        if (ch == 0 || (int32_t)(t - latest) > 0) {
            latest = t;
        }
    }
    have_conversion = 0x0F;
    return latest;
}

/* Read the chips (if any is ready), build the frame and queue it, or count it as missed. */
static void emit_frame(uint8_t ready, uint32_t now)
{
    uint8_t status = 0;
    uint8_t ch;
    uint32_t t_us = now;
    if (ready == 0x0F) {
        t_us = locate_conversions(micros());
    } else {
        have_conversion = 0; /* partial frame: no reliable conversion times */
    }
    if (ready) {
        int32_t fresh[BS_N_CHANNELS];
        hx711_read(fresh);
        for (ch = 0; ch < BS_N_CHANNELS; ch++) {
            if (ready & (1u << ch)) {
                counts[ch] = fresh[ch];
            }
        }
    }
    stalled &= (uint8_t)~ready;
    for (ch = 0; ch < BS_N_CHANNELS; ch++) {
        if (!(ready & (1u << ch))) {
            status |= BS_STATUS_TIMEOUT(ch);
        } else if (counts[ch] == BS_COUNT_MAX || counts[ch] == BS_COUNT_MIN) {
            status |= BS_STATUS_SATURATED(ch);
        }
    }
    last_frame_us = t_us;
    if (Serial.availableForWrite() >= (int)BS_DATA_FRAME_SIZE) {
        Serial.write(tx, bs_encode_data(tx, seq, t_us, counts, status, missed));
        seq++;
        missed = 0;
    } else {
        add_missed(1);
    }
}

void setup()
{
    SCK_DDR |= SCK_BIT;
    SCK_PORT &= (uint8_t)~SCK_BIT; /* clock low: chips stay powered up */
    DOUT_DDR &= (uint8_t)~DOUT_MASK;
    DOUT_PORT &= (uint8_t)~DOUT_MASK; /* HX711 drives DOUT: no pull-ups */
#if defined(__AVR_ATmega32U4__)
    MCUCR |= _BV(JTD); /* PF4..PF7 are JTAG pins: release them (two writes within 4 cycles) */
    MCUCR |= _BV(JTD);
#endif
#ifdef DRDY_PCINT_ENABLE
    DRDY_PCINT_ENABLE();
#endif
    bs_parser_init(&parser);
    Serial.begin(BS_BAUD);
    send_info();
}

void loop()
{
    uint8_t ready, wanted;
    uint32_t now;

    while (Serial.available() > 0) {
        if (bs_parser_feed(&parser, (uint8_t)Serial.read())) {
            handle_command();
        }
    }
    if (!streaming) {
        return;
    }

    /* Check with interrupts off so that a data-ready edge between the check and the sleep
     * leaves its pin-change flag pending and wakes us at once. */
    cli();
    ready = ready_channels();
    sei();
    now = micros();
    wanted = (uint8_t)(0x0F & ~stalled);
    if (wanted ? (ready & wanted) == wanted : ready != 0) {
        if (learning && ready == 0x0F) {
            learn_period(now);
            return;
        }
        emit_frame(ready, now);
        return;
    }
    if (now - last_frame_us >= (wanted ? TIMEOUT_US : PERIOD_US)) {
        stalled |= (uint8_t)(wanted & ~ready);
        emit_frame(ready, now);
        return;
    }
#ifdef DRDY_PCINT_VECT
    /* Idle until a DOUT edge, a serial byte or the 1.024 ms timer-0 tick. */
    set_sleep_mode(SLEEP_MODE_IDLE);
    cli();
    if (ready_channels() == ready) {
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
    }
    sei();
#endif
}
