/*
 * chan_ipc.c — an ipcplay mechanism seen through bench_chan.
 *
 * The adapter is one indirect call around ipc_send/ipc_recv with timeout -1
 * (block, the way a plain user calls them): the raw baselines pay the same
 * indirect call, so the ratio between the two is the cost of ipc.h itself.
 * The "observed" variant attaches an observer that does nothing, to measure
 * what the hook costs when someone listens (the visualizer does).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ipc_bench_chan {
    bench_chan   base;
    ipc_channel *ch;
} ipc_bench_chan;

static ipc_channel *ch_of(bench_chan *c) { return ((ipc_bench_chan *)c)->ch; }

static int failed(const char *call, int rc)
{
    return bench_fail("%s: %s (%s)", call, ipc_strerror(rc), ipc_last_error());
}

static int ipcb_send(bench_chan *c, const void *msg, size_t len)
{
    int rc = ipc_send(ch_of(c), msg, len, 0, -1);
    return rc == IPC_OK ? 0 : failed("ipc_send", rc);
}

static int ipcb_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    int rc = ipc_recv(ch_of(c), buf, cap, len, NULL, -1);
    return rc == IPC_OK ? 0 : failed("ipc_recv", rc);
}

static void ipcb_shutdown(bench_chan *c) { ipc_close(ch_of(c)); }

static void ipcb_free(bench_chan *c)
{
    ipc_free(ch_of(c));
    free(c);
}

static void ignore_event(void *arg, const ipc_channel *ch, const ipc_event *ev)
{
    (void)arg, (void)ch, (void)ev;
}

static int ipcb_open(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    ipc_bench_chan *c = calloc(1, sizeof *c);
    if (!c) return bench_fail_errno("calloc");
    /* Room for the message, but never less than the mechanism's own default
     * (a ring sized for 8-byte messages would measure something else). */
    ipc_config cfg = { .max_msg = max_msg, .wait = impl->strategy };
    if (cfg.max_msg < impl->mech->default_max_msg) cfg.max_msg = impl->mech->default_max_msg;
    int rc = ipc_open(impl->mech->name, &cfg, &c->ch);
    if (rc != IPC_OK) {
        free(c);
        return failed("ipc_open", rc);
    }
    if (impl->observed && (rc = ipc_observe(c->ch, ignore_event, NULL)) != IPC_OK) {
        ipc_free(c->ch);
        free(c);
        return failed("ipc_observe", rc);
    }
    c->base = (bench_chan){
        .send = ipcb_send, .recv = ipcb_recv, .bind_receiver = NULL,
        .shutdown = ipcb_shutdown, .free = ipcb_free,
    };
    *out = &c->base;
    return 0;
}

/* Open and free one channel before the session: a broker's embedded server
 * starts here (and lingers, for amqp, while the session opens its own). */
int bench_ipc_prepare(const bench_impl *impl)
{
    ipc_channel *ch = NULL;
    int rc = ipc_open(impl->mech->name, NULL, &ch);
    if (rc != IPC_OK) return failed("ipc_open", rc);
    ipc_free(ch);
    return 0;
}

int bench_impl_from_mechanism(bench_impl *impl, const ipc_mechanism *m, bool observed, int strategy)
{
    /* The name and the wait text live as long as the program (the cases
     * point at them): allocated once per impl, never freed. */
    char *name = malloc(64), *wait = malloc(160);
    if (!name || !wait) {
        free(name);
        free(wait);
        return bench_fail_errno("malloc");
    }
    snprintf(name, 64, "%s@%s", m->name, ipc_wait_name(strategy));
    snprintf(wait, 160, "%s: %s", ipc_wait_name(strategy), m->wait_strategy ? m->wait_strategy : "?");
    *impl = (bench_impl){
        .name = name, .wait = wait,
        .about = m->summary, .caps = m->caps, .max_msg = m->max_msg_limit,
        .mech = m, .strategy = strategy, .observed = observed, .open = ipcb_open,
        .prepare = m->family_id == IPC_FAMILY_BROKERS ? bench_ipc_prepare : NULL,
    };
    return 0;
}
