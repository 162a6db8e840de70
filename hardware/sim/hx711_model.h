/*
 * hx711_model.h - behavioural model of an HX711 24-bit load-cell ADC for the libsimavr harness.
 *
 * Each chip free-runs on its own oscillator (nominal rate times 1 + skew), pulls DOUT low when a
 * conversion is ready, shifts the 24-bit result out MSB first on the rising edges of the shared
 * PD_SCK line (DOUT settles a fixed delay after each rising edge), selects the next conversion's
 * channel and gain with the 25th..27th pulse, and powers down when PD_SCK stays high > 60 us.
 * Clock timing itself (shared by the four chips) is checked by the harness (fw_sim.c).
 */
#ifndef HX711_MODEL_H
#define HX711_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include <sim_avr.h>
#include <sim_irq.h>

typedef enum { HX_CONVERTING = 0, HX_READY, HX_SHIFTING, HX_POWERED_DOWN } hx711_state_t;

/* Returns the ideal (unclamped) differential input in counts for conversion `index` of `chip`. */
typedef int64_t (*hx711_load_fn)(int chip, uint64_t index, void *param);

typedef struct hx711_t {
    int chip;
    avr_t *avr;
    avr_irq_t *dout; /* the AVR input pin this chip's DOUT drives */
    hx711_state_t state;
    avr_cycle_count_t period_cycles;
    avr_cycle_count_t settle_cycles; /* DOUT valid this long after a rising edge */
    int gain;                        /* 128 or 64 (channel A) or 32 (channel B) */
    int pulses;                      /* rising edges in the current read-out */
    int32_t latched;                 /* the 24-bit result being shifted out */
    uint64_t latched_index;
    int pending_dout;
    hx711_load_fn load;
    void *load_param;
    /* fault windows, in cycles (start < end to enable) */
    avr_cycle_count_t stall_start, stall_end;
    avr_cycle_count_t saturate_start, saturate_end;
    /* statistics */
    uint64_t conversions;  /* data-ready events */
    uint64_t reads;        /* complete read-outs (>= 25 pulses) */
    uint64_t overwritten;  /* conversions replaced before being read */
    uint64_t busy_pulses;  /* clock pulses while no data was ready */
    uint64_t powerdowns;
    uint64_t wrong_gain_reads;
    FILE *reads_log;       /* optional: "chip index value cycle" per completed read */
} hx711_t;

void hx711_init(hx711_t *hx, avr_t *avr, int chip, avr_irq_t *dout, double rate_hz, double skew_ppm,
                double phase, hx711_load_fn load, void *load_param);
void hx711_clock_rise(hx711_t *hx);
void hx711_clock_fall(hx711_t *hx);
void hx711_power_down(hx711_t *hx);

#endif /* HX711_MODEL_H */
