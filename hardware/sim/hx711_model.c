/* hx711_model.c - see hx711_model.h. */
#include "hx711_model.h"

#include <sim_cycle_timers.h>
#include <sim_time.h>

#define HX_MAX ((int32_t)0x7FFFFF)
#define HX_MIN ((int32_t)-0x800000)
#define HX_SETTLING_CONVERSIONS 4 /* output settling after power-up / reset (datasheet: 50 ms at 80 SPS) */

static void set_dout(hx711_t *hx, int level)
{
    avr_raise_irq(hx->dout, level ? 1 : 0);
}

static int in_window(avr_cycle_count_t now, avr_cycle_count_t start, avr_cycle_count_t end)
{
    return start < end && now >= start && now < end;
}

static avr_cycle_count_t settle_done(avr_t *avr, avr_cycle_count_t when, void *param)
{
    hx711_t *hx = (hx711_t *)param;
    (void)avr;
    (void)when;
    set_dout(hx, hx->pending_dout);
    return 0;
}

static avr_cycle_count_t conversion_done(avr_t *avr, avr_cycle_count_t when, void *param)
{
    hx711_t *hx = (hx711_t *)param;
    int64_t v;

    if (hx->state == HX_POWERED_DOWN) {
        return 0; /* restarted by the clock's falling edge */
    }
    if (in_window(when, hx->stall_start, hx->stall_end)) {
        /* a stalled chip (loose wire, dead chip): DOUT floats high, no data-ready */
        if (hx->state == HX_READY) {
            hx->overwritten++;
        }
        hx->state = HX_CONVERTING;
        set_dout(hx, 1);
        return when + hx->period_cycles;
    }
    hx->conversions++;
    if (hx->state == HX_SHIFTING && hx->pulses < 25) {
        /* a read-out is in progress: the output register is not touched, the result is lost */
        hx->overwritten++;
        return when + hx->period_cycles;
    }
    if (hx->state == HX_READY) {
        /* the previous result was never (completely) read: it is gone */
        hx->overwritten++;
    }
    if (hx->state == HX_SHIFTING && hx->pulses > 25) {
        hx->wrong_gain_reads++; /* the firmware asked for channel B or gain 64 */
    }
    v = hx->load(hx->chip, hx->conversions - 1, hx->load_param);
    if (hx->gain == 64) {
        v /= 2;
    } else if (hx->gain == 32) {
        v = 0; /* channel B is not connected on the board */
    }
    if (in_window(when, hx->saturate_start, hx->saturate_end)) {
        v = (int64_t)HX_MAX + 1;
    }
    hx->latched = v > HX_MAX ? HX_MAX : (v < HX_MIN ? HX_MIN : (int32_t)v);
    hx->latched_index = hx->conversions - 1;
    hx->pulses = 0;
    hx->state = HX_READY;
    avr_cycle_timer_cancel(avr, settle_done, hx);
    set_dout(hx, 0);
    return when + hx->period_cycles;
}

void hx711_init(hx711_t *hx, avr_t *avr, int chip, avr_irq_t *dout, double rate_hz, double skew_ppm,
                double phase, hx711_load_fn load, void *load_param)
{
    double period = (double)avr->frequency / (rate_hz * (1.0 + skew_ppm * 1e-6));
    hx->chip = chip;
    hx->avr = avr;
    hx->dout = dout;
    hx->state = HX_CONVERTING;
    hx->period_cycles = (avr_cycle_count_t)(period + 0.5);
    hx->settle_cycles = avr_usec_to_cycles(avr, 1) / 10 + 1; /* 0.1 us -> 2 cycles at 16 MHz */
    hx->gain = 128;
    hx->pulses = 0;
    hx->load = load;
    hx->load_param = load_param;
    set_dout(hx, 1);
    avr_cycle_timer_register(avr, (avr_cycle_count_t)(period * (HX_SETTLING_CONVERSIONS + phase)),
                             conversion_done, hx);
}

void hx711_clock_rise(hx711_t *hx)
{
    int bit;
    if (hx->state == HX_POWERED_DOWN) {
        return;
    }
    if (hx->state == HX_CONVERTING || (hx->state == HX_SHIFTING && hx->pulses >= 27)) {
        hx->busy_pulses++;
        return;
    }
    hx->state = HX_SHIFTING;
    hx->pulses++;
    if (hx->pulses <= 24) {
        bit = 23 - (hx->pulses - 1);
        hx->pending_dout = (int)(((uint32_t)hx->latched >> bit) & 1u);
    } else {
        hx->pending_dout = 1; /* the 25th pulse pulls DOUT high until the next conversion */
        hx->gain = hx->pulses == 25 ? 128 : (hx->pulses == 26 ? 32 : 64);
    }
    avr_cycle_timer_register(hx->avr, hx->settle_cycles, settle_done, hx);
}

void hx711_clock_fall(hx711_t *hx)
{
    if (hx->state == HX_POWERED_DOWN) {
        /* clock back low: the chip wakes up, resets to channel A gain 128 and settles */
        hx->state = HX_CONVERTING;
        hx->gain = 128;
        hx->pulses = 0;
        avr_cycle_timer_register(hx->avr, hx->period_cycles * HX_SETTLING_CONVERSIONS,
                                 conversion_done, hx);
        return;
    }
    /* After the 25th pulse the chip stays "shifting" until its next conversion, so that the
     * 26th and 27th pulses can still select the next channel and gain. */
    if (hx->state == HX_SHIFTING && hx->pulses == 25) {
        hx->reads++;
        if (hx->reads_log) {
            fprintf(hx->reads_log, "%d %llu %ld %llu\n", hx->chip,
                    (unsigned long long)hx->latched_index, (long)hx->latched,
                    (unsigned long long)hx->avr->cycle);
        }
    }
}

void hx711_power_down(hx711_t *hx)
{
    if (hx->state == HX_POWERED_DOWN) {
        return;
    }
    hx->powerdowns++;
    hx->state = HX_POWERED_DOWN;
    avr_cycle_timer_cancel(hx->avr, conversion_done, hx);
    avr_cycle_timer_cancel(hx->avr, settle_done, hx);
    set_dout(hx, 1);
}
