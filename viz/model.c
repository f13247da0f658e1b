/*
 * model.c — folding recorded events into what the picture shows, and the
 * player that moves a playback time through the recorded history.
 *
 * Events arrive in the order the observer appended them, which is nearly,
 * but not exactly, the order things happened: a consumer may report
 * receiving a message a moment before its producer reports having sent it
 * (the producer was preempted between the two).  The model copes: such a
 * message is remembered as "early" and not added to the channel when its
 * SEND_DONE finally comes.
 *
 * Blocking is shown as the calls report it.  An actor waits in slices
 * (run.c), so a long wait is a series of BLOCKED, DONE(timeout), BEGIN,
 * BLOCKED...; a timed-out call being retried keeps its blocked state, so
 * the badge and the timeline show one long wait, which is what it is.
 */
#define _GNU_SOURCE
#include "model.h"

#include <stdlib.h>
#include <string.h>

enum viz_view viz_view_for(const viz_run_info *in)
{
    if (in->toy) return VIEW_RING;
    /* Registry data only (family, carrier, caps), never the name: a new
     * mechanism gets its picture from what its descriptor says it is. */
    switch (in->family_id) {
    case IPC_FAMILY_PIPES:   return VIEW_PIPE;
    case IPC_FAMILY_SHM:     return VIEW_RING;
    case IPC_FAMILY_EVENTS:
    case IPC_FAMILY_SIGNALS: return VIEW_COUNTER;
    case IPC_FAMILY_BROKERS: return VIEW_BROKER;
    default:                 break;
    }
    if (in->caps & IPC_CAP_LIFO) return VIEW_STACK;
    if (in->carrier == IPC_CARRIER_POSIX_MQ || in->carrier == IPC_CARRIER_SYSV_MQ) return VIEW_MAILBOX;
    if (in->caps & IPC_CAP_PRIORITY) return VIEW_PRIORITY;
    return in->capacity ? VIEW_RING : VIEW_CONVEYOR;
}

int viz_model_init(viz_model *m, const viz_run_info *info)
{
    memset(m, 0, sizeof *m);
    m->info = *info;
    m->view = viz_view_for(info);
    m->order = info->caps & IPC_CAP_LIFO ? IPC_LIFO : info->caps & IPC_CAP_PRIORITY ? IPC_PRIORITY : IPC_FIFO;
    m->t0 = m->now = info->t0;
    m->next_sample = info->t0;
    m->depth = -1;
    m->kernel_bytes = -1;
    m->last_block.actor = m->last_recv_actor = -1;
    m->chan_alloc = 64;
    m->chan = malloc(m->chan_alloc * sizeof *m->chan);
    return m->chan ? 0 : -1;
}

void viz_model_free(viz_model *m)
{
    free(m->chan);
    m->chan = NULL;
}

int viz_model_copy(viz_model *dst, const viz_model *src)
{
    viz_msg *chan = malloc(src->chan_alloc * sizeof *chan);
    if (!chan) return -1;
    memcpy(chan, src->chan, src->chan_alloc * sizeof *chan);
    *dst = *src;
    dst->chan = chan;
    return 0;
}

/* ---- the channel's contents -------------------------------------------- */

static viz_msg *at(viz_model *m, size_t i) { return &m->chan[(m->chan_head + i) & (m->chan_alloc - 1)]; }

static void chan_push(viz_model *m, const viz_msg *msg)
{
    if (m->chan_n == m->chan_alloc) { /* unroll into a buffer twice the size */
        viz_msg *bigger = malloc(2 * m->chan_alloc * sizeof *bigger);
        if (!bigger) return; /* the picture misses one message; the counters do not */
        for (size_t i = 0; i < m->chan_n; i++) bigger[i] = *at(m, i);
        free(m->chan);
        m->chan = bigger;
        m->chan_alloc *= 2;
        m->chan_head = 0;
    }
    *at(m, m->chan_n++) = *msg;
}

static void chan_remove(viz_model *m, size_t i)
{
    if (i < m->chan_n / 2) { /* shift the front part right by one */
        for (size_t k = i; k > 0; k--) *at(m, k) = *at(m, k - 1);
        m->chan_head = (m->chan_head + 1) & (m->chan_alloc - 1);
    } else {
        for (size_t k = i; k + 1 < m->chan_n; k++) *at(m, k) = *at(m, k + 1);
    }
    m->chan_n--;
}

static bool same(viz_token a, viz_token b) { return a.producer == b.producer && a.seq == b.seq; }

/* Where tok is in the channel, looking first where the mechanism takes
 * from (so the usual case costs one comparison); -1 if absent. */
static long chan_find(viz_model *m, viz_token tok)
{
    for (size_t k = 0; k < m->chan_n; k++) {
        size_t i = m->order == IPC_LIFO ? m->chan_n - 1 - k : k;
        if (same(at(m, i)->tok, tok)) return (long)i;
    }
    return -1;
}

/* Does message a leave before message b (both in the channel)? */
static bool leaves_before(const viz_model *m, const viz_msg *a, size_t ia, const viz_msg *b, size_t ib)
{
    if (m->order == IPC_LIFO) return ia > ib;
    if (m->order == IPC_PRIORITY && a->tok.prio != b->tok.prio) return a->tok.prio > b->tok.prio;
    return ia < ib;
}

size_t viz_model_order_out(const viz_model *m, uint32_t *idx, size_t max)
{
    size_t n = m->chan_n < max ? m->chan_n : max;
    if (m->order == IPC_LIFO) {
        for (size_t k = 0; k < n; k++) idx[k] = (uint32_t)(m->chan_n - 1 - k);
        return n;
    }
    if (m->order == IPC_FIFO || m->chan_n > max) { /* (a huge priority backlog: arrival order) */
        for (size_t k = 0; k < n; k++) idx[k] = (uint32_t)k;
        return n;
    }
    for (size_t k = 0; k < n; k++) { /* insertion sort: a channel on screen is short */
        uint32_t v = (uint32_t)k;
        size_t j = k;
        while (j > 0 && leaves_before(m, viz_model_msg(m, v), v, viz_model_msg(m, idx[j - 1]), idx[j - 1])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    return n;
}

/* Where message i sits in the picture: its slot in a ring, its height in a
 * stack, its rank (0 = next out) elsewhere. */
static long position(const viz_model *m, size_t i)
{
    if (m->view == VIEW_RING && m->info.capacity) return (long)((m->removed + i) % m->info.capacity);
    if (m->view == VIEW_STACK) return (long)i;
    long rank = 0;
    for (size_t k = 0; k < m->chan_n; k++)
        rank += k != i && leaves_before(m, viz_model_msg(m, k), k, viz_model_msg(m, i), i);
    return rank;
}

/* ---- actors ------------------------------------------------------------ */

static bool is_blocked(enum viz_state s) { return s == VS_BLOCKED_FULL || s == VS_BLOCKED_EMPTY; }

static void set_state(viz_actor *a, enum viz_state s, int64_t t)
{
    if (a->state == s) return;
    if (is_blocked(a->state)) a->blocked_ns += t - a->since;
    a->state = s;
    a->since = t;
    a->lane[a->lane_n % VIZ_LANE_MAX].t = t;
    a->lane[a->lane_n % VIZ_LANE_MAX].state = (uint8_t)s;
    a->lane_n++;
}

static void arrow(viz_model *m, int from, int to, int64_t t)
{
    if (from < 0 || from >= VIZ_MAX_ACTORS) return;
    m->arrows[m->arrow_n++ % VIZ_ARROWS] = (viz_arrow){ .from = (uint8_t)from, .to = (uint8_t)to, .t = t };
}

static void remember_received(viz_model *m, viz_token tok)
{
    m->recent[m->recent_n++ % VIZ_RECENT] = viz_token_id(tok);
}

static bool received_before(const viz_model *m, viz_token tok)
{
    uint32_t n = m->recent_n < VIZ_RECENT ? m->recent_n : VIZ_RECENT;
    for (uint32_t k = 0; k < n; k++)
        if (m->recent[k] == viz_token_id(tok)) return true;
    return false;
}

static bool take_early(viz_model *m, viz_token tok)
{
    for (uint32_t k = 0; k < m->early_n; k++)
        if (same(m->early[k].tok, tok)) {
            m->early[k] = m->early[--m->early_n];
            return true;
        }
    return false;
}

static void on_send_done(viz_model *m, int id, const viz_rec *r)
{
    viz_actor *a = &m->actors[id];
    if (r->result == IPC_EFULL) { /* timed out: the actor retries */
        a->retrying = true;
        return;
    }
    bool woken = a->state == VS_BLOCKED_FULL;
    if (r->result == IPC_OK) {
        viz_msg msg = a->held;
        msg.tok = r->tok;
        msg.len = r->len;
        msg.t_in = r->t_ns;
        if (!take_early(m, r->tok)) chan_push(m, &msg);
        m->sent++;
        a->count++;
        if (woken && m->last_recv_t >= a->since) arrow(m, m->last_recv_actor, id, r->t_ns);
    }
    a->holding = false;
    a->retrying = false;
    set_state(a, VS_WORKING, r->t_ns);
}

static void on_recv_done(viz_model *m, int id, const viz_rec *r)
{
    viz_actor *a = &m->actors[id];
    if (r->result == IPC_EEMPTY) {
        a->retrying = true;
        return;
    }
    bool woken = a->state == VS_BLOCKED_EMPTY;
    a->retrying = false;
    a->holding = false;
    set_state(a, VS_WORKING, r->t_ns);
    if (r->result != IPC_OK) return;

    viz_flight f = { .consumer = (uint8_t)id, .t = r->t_ns, .msg = { .tok = r->tok, .len = r->len } };
    long i = r->tok.producer == VIZ_NO_PRODUCER ? -1 : chan_find(m, r->tok);
    if (i >= 0) {
        f.msg = *at(m, (size_t)i);
        f.msg.tok.prio = r->tok.prio;
        f.pos = position(m, (size_t)i);
        chan_remove(m, (size_t)i);
    } else if (r->tok.producer == VIZ_NO_PRODUCER) {
        f.garbage = true;                 /* not a message anybody sent */
        m->garbage++;
    } else if (received_before(m, r->tok)) {
        f.dup = true;                     /* delivered twice */
        m->dups++;
    } else {                              /* its SEND_DONE is still on the way */
        f.pos = m->view == VIEW_STACK ? (long)m->chan_n  /* it left from where a send puts */
              : m->view == VIEW_RING && m->info.capacity ? (long)(m->removed % m->info.capacity) : 0;
        if (r->tok.producer < VIZ_MAX_PRODUCERS && m->actors[r->tok.producer].holding)
            f.msg.t_begin = m->actors[r->tok.producer].held.t_begin;
        if (m->early_n == VIZ_EARLY) /* full of strays (after a gap): drop the oldest */
            memmove(&m->early[0], &m->early[1], --m->early_n * sizeof m->early[0]);
        m->early[m->early_n++] = f.msg;
    }
    if (!f.dup) m->removed++; /* the mechanism's head moved on (early ones too) */
    if (!f.garbage && !f.dup) remember_received(m, r->tok);
    if (f.msg.t_begin) m->lat[m->lat_n++ % VIZ_LAT_MAX] = r->t_ns - f.msg.t_begin;
    m->flights[m->flight_n++ % VIZ_FLIGHTS] = f;

    m->received++;
    a->count++;
    a->holding = true;                    /* it works on this message now */
    a->held = f.msg;
    memmove(&a->inbox[1], &a->inbox[0], (VIZ_INBOX - 1) * sizeof a->inbox[0]);
    a->inbox[0].tok = f.msg.tok;
    a->inbox[0].t = r->t_ns;
    a->inbox[0].dup = f.dup || f.garbage;
    if (a->inbox_n < VIZ_INBOX) a->inbox_n++;
    /* A receiver asleep on an empty channel is woken by the send of the
     * very message it then gets: that message's producer. */
    if (woken && !f.garbage && r->tok.producer < VIZ_MAX_PRODUCERS) arrow(m, r->tok.producer, id, r->t_ns);
    m->last_recv_actor = id;
    m->last_recv_t = r->t_ns;
}

static void on_blocked(viz_model *m, int id, enum viz_state s, int kind, int64_t t)
{
    viz_actor *a = &m->actors[id];
    if (a->state == s) return; /* a retry of the same wait */
    set_state(a, s, t);
    if (s == VS_BLOCKED_FULL) m->blocks_full++;
    else m->blocks_empty++;
    m->last_block.actor = id;
    m->last_block.kind = kind;
    m->last_block.t = t;
}

static void on_lost(viz_model *m, const viz_rec *r)
{
    long i = chan_find(m, r->tok);
    viz_loss l = { .t = r->t_ns, .msg = { .tok = r->tok, .len = r->len } };
    if (i >= 0) {
        l.msg = *at(m, (size_t)i);
        l.pos = position(m, (size_t)i);
        chan_remove(m, (size_t)i);
    }
    m->losses[m->loss_n++ % VIZ_LOSSES] = l;
    m->lost++;
}

/* Events were lost: what the channel holds is no longer known.  Start
 * over from what comes next; the mechanism's own depth stays right. */
static void on_gap(viz_model *m, const viz_rec *r)
{
    m->chan_n = m->chan_head = 0;
    m->early_n = m->recent_n = 0;
    for (int id = 0; id < VIZ_MAX_ACTORS; id++) m->actors[id].holding = false;
    m->gaps++;
    m->gap_events += r->len;
}

/* ---- time -------------------------------------------------------------- */

void viz_model_advance(viz_model *m, int64_t t)
{
    if (t - m->next_sample > VIZ_SAMPLES * VIZ_SAMPLE_NS) /* a long gap: skip it */
        m->next_sample = t - (t - m->next_sample) % VIZ_SAMPLE_NS;
    while (m->next_sample <= t) {
        m->samples[m->sample_n % VIZ_SAMPLES].t = m->next_sample;
        m->samples[m->sample_n % VIZ_SAMPLES].received = m->received;
        m->samples[m->sample_n % VIZ_SAMPLES].depth = viz_model_depth(m);
        m->sample_n++;
        m->next_sample += VIZ_SAMPLE_NS;
    }
    if (t > m->now) m->now = t;
}

void viz_model_apply(viz_model *m, const viz_rec *r)
{
    viz_model_advance(m, r->t_ns);
    m->events++;
    int id = r->actor < VIZ_MAX_ACTORS ? r->actor : -1;
    viz_actor *a = id >= 0 ? &m->actors[id] : NULL;
    bool channel_event = r->kind <= IPC_EV_CLOSE;
    if (channel_event && r->depth >= 0) m->depth = r->depth;
    if (r->kind == VIZ_EV_FILL) { /* from any actor, or from the visualizer itself */
        m->kernel_bytes = r->len;
        return;
    }
    if (!a && r->kind != IPC_EV_CLOSE && r->kind != VIZ_EV_RUN && r->kind != VIZ_EV_LOST && r->kind != VIZ_EV_GAP)
        return;

    switch (r->kind) {
    case VIZ_EV_RUN:
        m->t0 = r->t_ns;
        break;
    case VIZ_EV_ACTOR_START:
        a->holding = a->retrying = false; /* a reused slot keeps its lane and count */
        set_state(a, VS_WORKING, r->t_ns);
        break;
    case VIZ_EV_ACTOR_EXIT:
        a->holding = false;
        set_state(a, VS_GONE, r->t_ns);
        break;
    case VIZ_EV_IDLE:
        set_state(a, VS_IDLE, r->t_ns);
        break;
    case VIZ_EV_LOST:
        on_lost(m, r);
        break;
    case VIZ_EV_GAP:
        on_gap(m, r);
        break;
    case IPC_EV_SEND_BEGIN:
        a->holding = true;
        a->held = (viz_msg){ .tok = r->tok, .len = r->len, .t_begin = r->t_ns };
        if (!(a->retrying && a->state == VS_BLOCKED_FULL)) set_state(a, VS_SENDING, r->t_ns);
        break;
    case IPC_EV_SEND_BLOCKED:
        on_blocked(m, id, VS_BLOCKED_FULL, r->kind, r->t_ns);
        break;
    case IPC_EV_SEND_DONE:
        on_send_done(m, id, r);
        break;
    case IPC_EV_RECV_BEGIN:
        a->holding = false;
        if (!(a->retrying && a->state == VS_BLOCKED_EMPTY)) set_state(a, VS_RECEIVING, r->t_ns);
        break;
    case IPC_EV_RECV_BLOCKED:
        on_blocked(m, id, VS_BLOCKED_EMPTY, r->kind, r->t_ns);
        break;
    case IPC_EV_RECV_DONE:
        on_recv_done(m, id, r);
        break;
    case IPC_EV_CLOSE:
        if (!m->closed) m->t_closed = r->t_ns;
        m->closed = true;
        break;
    default:
        break;
    }
}

/* ---- derived figures ----------------------------------------------------- */

long viz_model_depth(const viz_model *m)
{
    return m->depth >= 0 ? m->depth : (long)m->chan_n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* When a message began to wait: its SEND_BEGIN, else (unknown) its SEND_DONE. */
static int64_t wait_start(const viz_msg *msg) { return msg->t_begin ? msg->t_begin : msg->t_in; }

int64_t viz_model_wait(const viz_model *m, double pct, int64_t t)
{
    uint32_t n = m->lat_n < VIZ_LAT_MAX ? m->lat_n : VIZ_LAT_MAX;
    size_t waiting = m->chan_n < VIZ_LAT_MAX ? m->chan_n : VIZ_LAT_MAX;
    if (n + waiting == 0) return -1;
    int64_t v[2 * VIZ_LAT_MAX];
    memcpy(v, m->lat, n * sizeof v[0]);
    size_t k = n;
    for (size_t i = 0; i < waiting; i++) {
        const viz_msg *msg = viz_model_msg(m, i);
        if (wait_start(msg)) v[k++] = t - wait_start(msg);
    }
    if (k == 0) return -1;
    qsort(v, k, sizeof v[0], cmp_i64);
    size_t at = (size_t)(pct / 100.0 * (double)(k - 1) + 0.5);
    return v[at < k ? at : k - 1];
}

int64_t viz_model_oldest_wait(const viz_model *m, int64_t t)
{
    int64_t oldest = -1;
    for (size_t i = 0; i < m->chan_n; i++) {
        int64_t start = wait_start(viz_model_msg(m, i));
        if (start && (oldest < 0 || t - start > oldest)) oldest = t - start;
    }
    return oldest;
}

int64_t viz_model_kernel_bytes(const viz_model *m) { return m->kernel_bytes; }

uint64_t viz_model_stream_bytes(const viz_model *m)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < m->chan_n; i++) bytes += viz_model_msg(m, i)->len + 4; /* 4-byte length prefix */
    return bytes;
}

double viz_model_rate(const viz_model *m, int64_t t)
{
    /* the newest sample at least one second before t */
    uint32_t n = m->sample_n < VIZ_SAMPLES ? m->sample_n : VIZ_SAMPLES;
    for (uint32_t k = 1; k <= n; k++) {
        const viz_sample *s = &m->samples[(m->sample_n - k) % VIZ_SAMPLES];
        if (t - s->t >= 1000000000LL)
            return (double)(m->received - s->received) * 1e9 / (double)(t - s->t);
    }
    return t > m->t0 ? (double)m->received * 1e9 / (double)(t - m->t0) : 0.0;
}

enum viz_state viz_model_state_at(const viz_model *m, int id, int64_t t)
{
    const viz_actor *a = &m->actors[id];
    uint32_t n = a->lane_n < VIZ_LANE_MAX ? a->lane_n : VIZ_LANE_MAX;
    for (uint32_t k = 1; k <= n; k++) {
        uint32_t i = (a->lane_n - k) % VIZ_LANE_MAX;
        if (a->lane[i].t <= t) return (enum viz_state)a->lane[i].state;
    }
    return VS_ABSENT;
}

/* ---- the player ---------------------------------------------------------- */

int viz_player_init(viz_player *p, const viz_run_info *info, size_t max_events)
{
    memset(p, 0, sizeof *p);
    p->max = max_events < 1024 ? 1024 : max_events;
    p->t = info->t0;
    if (viz_model_init(&p->base, info) != 0) return -1;
    if (viz_model_copy(&p->cur, &p->base) != 0) {
        viz_model_free(&p->base);
        return -1;
    }
    return 0;
}

void viz_player_free(viz_player *p)
{
    viz_model_free(&p->base);
    viz_model_free(&p->cur);
    free(p->hist);
    p->hist = NULL;
}

/* Bound memory: the oldest half of the history becomes part of base. */
static int fold(viz_player *p)
{
    size_t half = p->n / 2;
    for (size_t i = 0; i < half; i++) viz_model_apply(&p->base, &p->hist[i]);
    memmove(p->hist, p->hist + half, (p->n - half) * sizeof *p->hist);
    p->n -= half;
    p->trimmed += half;
    if (p->cursor >= half) {
        p->cursor -= half;
        return 0;
    }
    /* playback was in the part just folded: it jumps to the oldest kept */
    viz_model_free(&p->cur);
    p->cursor = 0;
    if (p->t < p->base.now) p->t = p->base.now;
    return viz_model_copy(&p->cur, &p->base);
}

/* Room for one more record: grow, or fold when at the limit. */
static int reserve(viz_player *p)
{
    if (p->n == p->max && fold(p) != 0) return -1;
    if (p->n < p->alloc) return 0;
    size_t a = p->alloc ? p->alloc * 2 : 4096;
    viz_rec *h = realloc(p->hist, (a > p->max ? p->max : a) * sizeof *h);
    if (!h) return -1;
    p->hist = h;
    p->alloc = a > p->max ? p->max : a;
    return 0;
}

long viz_player_ingest(viz_player *p, viz_trace *tr)
{
    long total = 0;
    for (;;) {
        uint64_t lost = viz_trace_skip_lost(tr);
        if (reserve(p) != 0) return -1;
        int64_t prev = p->n ? p->hist[p->n - 1].t_ns : p->base.now;
        if (lost) { /* the run outpaced the reader: say so in the history */
            p->hist[p->n++] = (viz_rec){ .t_ns = prev, .kind = VIZ_EV_GAP, .actor = VIZ_ACTOR_MAIN,
                                         .depth = -1, .len = lost > UINT32_MAX ? UINT32_MAX : (uint32_t)lost };
            p->trace_lost += lost;
            if (reserve(p) != 0) return -1;
        }
        size_t want = p->alloc - p->n;
        if (want > VIZ_INGEST_MAX - (size_t)total) want = VIZ_INGEST_MAX - (size_t)total;
        size_t got = viz_trace_drain(tr, p->hist + p->n, want);
        /* keep time monotonic: append order is the order of the record */
        for (size_t i = 0; i < got; i++, p->n++) {
            if (p->hist[p->n].t_ns < prev) p->hist[p->n].t_ns = prev;
            prev = p->hist[p->n].t_ns;
        }
        total += (long)got;
        if ((size_t)total >= VIZ_INGEST_MAX || (!lost && got < want)) return total;
    }
}

int viz_player_seek(viz_player *p, int64_t t)
{
    if (t < viz_player_first_t(p)) t = viz_player_first_t(p);
    if (p->cursor > 0 && p->hist[p->cursor - 1].t_ns > t) { /* backwards: replay */
        viz_model_free(&p->cur);
        if (viz_model_copy(&p->cur, &p->base) != 0) return -1;
        p->cursor = 0;
    }
    while (p->cursor < p->n && p->hist[p->cursor].t_ns <= t) viz_model_apply(&p->cur, &p->hist[p->cursor++]);
    viz_model_advance(&p->cur, t);
    p->t = t;
    return 0;
}

bool viz_player_step(viz_player *p, int dir)
{
    if (dir > 0) {
        if (p->cursor >= p->n) return false;
        viz_model_apply(&p->cur, &p->hist[p->cursor]);
        p->t = p->hist[p->cursor++].t_ns;
        return true;
    }
    if (p->cursor == 0) return false;
    size_t want = p->cursor - 1;
    viz_model_free(&p->cur);
    if (viz_model_copy(&p->cur, &p->base) != 0) return false;
    for (p->cursor = 0; p->cursor < want; p->cursor++) viz_model_apply(&p->cur, &p->hist[p->cursor]);
    p->t = want ? p->hist[want - 1].t_ns : p->base.now;
    return true;
}

int64_t viz_player_last_t(const viz_player *p) { return p->n ? p->hist[p->n - 1].t_ns : p->base.now; }
int64_t viz_player_first_t(const viz_player *p) { return p->base.now; }
