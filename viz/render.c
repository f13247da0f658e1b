/*
 * render.c — draws one frame from the model at the playback time t.
 *
 * Everything on screen is derived from recorded events: a message moves
 * from its producer into the channel when its SEND_DONE happened and from
 * the channel to the consumer whose RECV_DONE returned it.  Real calls take
 * microseconds, so each move is stretched to FLIGHT_NS of playback time
 * after the event; the picture never shows a message anywhere it was not.
 *
 * Layout (1280 x 720): header with the mechanism and its wait strategy;
 * the stage (producers | channel | consumers); timelines and counters
 * below; the key hints at the bottom.
 */
#define _GNU_SOURCE
#include "render.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define FLIGHT_NS   350000000LL   /* a message's trip on screen          */
#define ARROW_NS    900000000LL   /* a wake-up arrow stays this long      */
#define LOSS_NS     2500000000LL  /* a lost message fades out             */
#define LANE_NS     10000000000LL /* the timeline shows the last 10 s     */

#define STAGE_Y   84
#define STAGE_H   352
#define CARD_W    236
#define CARD_GAP  10
#define CHAN_X    296
#define CHAN_W    688
#define CX        640.0f          /* the channel's centre */
#define CY        262.0f
#define TOKEN_R   14.0f
#define RING_MAX  24              /* more slots than this are drawn as a line */
#define LINE_SLOTS  17              /* messages drawn in a line                */
#define STACK_ROWS 8              /* ... in a stack or a priority list       */

/* ---- palette ---------------------------------------------------------- */

static const SDL_Color BG = { 17, 21, 28, 255 }, PANEL = { 28, 33, 43, 255 },
    PANEL_HI = { 38, 44, 56, 255 }, EDGE = { 58, 66, 82, 255 }, TEXT = { 230, 236, 243, 255 },
    DIM = { 140, 150, 165, 255 }, FAINT = { 90, 99, 115, 255 }, ACCENT = { 255, 213, 79, 255 },
    BAD = { 239, 83, 80, 255 }, GOOD = { 102, 187, 106, 255 }, SLOT = { 48, 55, 70, 255 };

SDL_Color viz_producer_color(int producer)
{
    static const SDL_Color c[VIZ_MAX_PRODUCERS] = {
        { 66, 165, 245, 255 }, { 255, 167, 38, 255 }, { 236, 64, 122, 255 }, { 156, 204, 101, 255 },
        { 171, 71, 188, 255 }, { 38, 198, 218, 255 }, { 255, 238, 88, 255 }, { 161, 136, 127, 255 },
    };
    return producer >= 0 && producer < VIZ_MAX_PRODUCERS ? c[producer] : (SDL_Color){ 120, 120, 120, 255 };
}

SDL_Color viz_state_color(enum viz_state s)
{
    switch (s) {
    case VS_WORKING:       return (SDL_Color){ 67, 160, 71, 255 };
    case VS_IDLE:          return (SDL_Color){ 96, 108, 128, 255 };
    case VS_SENDING:
    case VS_RECEIVING:     return (SDL_Color){ 57, 118, 200, 255 };
    case VS_BLOCKED_FULL:  return (SDL_Color){ 229, 57, 53, 255 };
    case VS_BLOCKED_EMPTY: return (SDL_Color){ 251, 140, 0, 255 };
    case VS_GONE:          return (SDL_Color){ 62, 68, 80, 255 };
    default:               return (SDL_Color){ 45, 50, 60, 255 };
    }
}

SDL_Color viz_spin_color(void) { return (SDL_Color){ 186, 85, 211, 255 }; }

double viz_side_cpu(const viz_ui *ui, enum viz_role role)
{
    double sum = 0;
    for (int i = 0; i < VIZ_MAX_ACTORS; i++)
        if (viz_actor_role(i) == role) sum += ui->cpu_pct[i];
    return sum;
}

bool viz_actor_spins(const viz_model *m, int actor)
{
    enum viz_state s = m->actors[actor].state;
    return m->info.wait_strategy == IPC_WAIT_SPIN && (s == VS_BLOCKED_FULL || s == VS_BLOCKED_EMPTY);
}

/* A state as this channel shows it: a blocked actor of a spinning channel
 * (IPC_WAIT_SPIN) is drawn in the spin colour, everywhere (badge, card,
 * timeline), because it does not sleep: it burns a CPU retrying.  Under
 * IPC_WAIT_ADAPTIVE the spin before the sleep lasts at most spin_ns (20 µs
 * by default), far below one frame, so it is drawn as sleeping: its CPU%
 * tells the two apart. */
static bool spin_state(const viz_model *m, enum viz_state s)
{
    return m->info.wait_strategy == IPC_WAIT_SPIN && (s == VS_BLOCKED_FULL || s == VS_BLOCKED_EMPTY);
}
static SDL_Color shown_color(const viz_model *m, enum viz_state s)
{
    return spin_state(m, s) ? viz_spin_color() : viz_state_color(s);
}
static const char *shown_label(const viz_model *m, enum viz_state s)
{
    if (spin_state(m, s)) return s == VS_BLOCKED_FULL ? "SPINNING · FULL" : "SPINNING · EMPTY";
    return viz_state_label(s);
}

const char *viz_state_label(enum viz_state s)
{
    switch (s) {
    case VS_WORKING:       return "WORKING";
    case VS_IDLE:          return "RESTING";
    case VS_SENDING:       return "SENDING";
    case VS_RECEIVING:     return "RECEIVING";
    case VS_BLOCKED_FULL:  return "BLOCKED · FULL";
    case VS_BLOCKED_EMPTY: return "BLOCKED · EMPTY";
    case VS_GONE:          return "GONE";
    default:               return "—";
    }
}

/* ---- layout -------------------------------------------------------------- */

typedef struct layout {
    bool     shown[VIZ_MAX_ACTORS];
    SDL_Rect card[VIZ_MAX_ACTORS];
    int      n[2];
    bool     compact;             /* cards too short for three lines */
} layout;

static void layout_actors(const viz_model *m, layout *L)
{
    memset(L, 0, sizeof *L);
    for (int id = 0; id < VIZ_MAX_ACTORS; id++)
        if (m->actors[id].state != VS_ABSENT) {
            L->shown[id] = true;
            L->n[viz_actor_role(id)]++;
        }
    int most = L->n[0] > L->n[1] ? L->n[0] : L->n[1];
    int h = most ? (STAGE_H - (most - 1) * CARD_GAP) / most : 0;
    if (h > 86) h = 86;
    L->compact = h < 72;
    for (int role = 0; role < 2; role++) {
        int n = L->n[role], y = STAGE_Y + (STAGE_H - (n * h + (n - 1) * CARD_GAP)) / 2;
        int x = role == VIZ_PRODUCER ? 24 : VIZ_W - 24 - CARD_W;
        for (int id = 0; id < VIZ_MAX_ACTORS; id++) {
            if (!L->shown[id] || (int)viz_actor_role(id) != role) continue;
            L->card[id] = (SDL_Rect){ x, y, CARD_W, h };
            y += h + CARD_GAP;
        }
    }
}

/* Where an actor hands messages over: just outside its card, facing the channel. */
static SDL_FPoint door(const layout *L, int id)
{
    SDL_Rect c = L->card[id];
    float y = (float)c.y + (float)c.h / 2;
    return viz_actor_role(id) == VIZ_PRODUCER ? (SDL_FPoint){ (float)(c.x + c.w) + 22, y }
                                               : (SDL_FPoint){ (float)c.x - 22, y };
}

/* Card: avatar at the left; then name, state badge and counters on three
 * lines (compact: avatar, badge and count on one line). */
static int avatar_r(const layout *L) { return L->compact ? 11 : 17; }
static int text_x(const layout *L, int id) { return L->card[id].x + 22 + 2 * avatar_r(L); }

static SDL_Rect badge_rect(gfx *g, const layout *L, int id, const char *label)
{
    SDL_Rect c = L->card[id];
    int w = gfx_text_width(g, F_BOLD, label) + 22, h = L->compact ? 20 : 24;
    return (SDL_Rect){ text_x(L, id), L->compact ? c.y + (c.h - h) / 2 : c.y + 30, w, h };
}

bool viz_render_badge_rect(gfx *g, const viz_model *m, int actor, SDL_Rect *out)
{
    layout L;
    layout_actors(m, &L);
    if (actor < 0 || actor >= VIZ_MAX_ACTORS || !L.shown[actor]) return false;
    *out = badge_rect(g, &L, actor, shown_label(m, m->actors[actor].state));
    return true;
}

/* ---- drawing context ----------------------------------------------------- */

typedef struct ctx {
    gfx             *g;
    const viz_model *m;
    const viz_ui    *ui;
    int64_t          t;
    layout           L;
    uint32_t         order[LINE_SLOTS * 4];  /* channel indices, next out first */
    size_t           n_order;
    long             rank[LINE_SLOTS * 4];   /* rank by chan index (first few)  */
    bool             ring;                 /* drawn as a ring of slots        */
} ctx;

static float ease(float x) { x = x < 0 ? 0 : x > 1 ? 1 : x; return 1 - (1 - x) * (1 - x) * (1 - x); }
static float fade(int64_t age, int64_t life) { return age >= life ? 0 : 1 - (float)age / (float)life; }

static void draw_token(ctx *c, float x, float y, float r, viz_token tok, float alpha, bool alarm)
{
    gfx *g = c->g;
    bool garbage = tok.producer == VIZ_NO_PRODUCER;
    SDL_Color col = garbage ? (SDL_Color){ 110, 110, 110, 255 } : viz_producer_color(tok.producer);
    gfx_circle(g, x + 1.5f, y + 2, r, gfx_alpha((SDL_Color){ 0, 0, 0, 255 }, 0.35f * alpha));
    gfx_circle(g, x, y, r, gfx_alpha(col, alpha));
    gfx_ring(g, x, y, r, 2, gfx_alpha(gfx_mix(col, (SDL_Color){ 0, 0, 0, 255 }, 0.35f), alpha));
    if (alarm) gfx_ring(g, x, y, r + 5, 3, gfx_alpha(BAD, alpha));
    if (r >= 9) {
        if (garbage) gfx_text(g, F_TINY, gfx_alpha(TEXT, alpha), (int)x, (int)y, GFX_CENTER | GFX_MIDDLE, "?");
        else if (tok.seq < 1000) gfx_text(g, F_TINY, gfx_alpha((SDL_Color){ 20, 20, 28, 255 }, alpha), (int)x, (int)y,
                                          GFX_CENTER | GFX_MIDDLE, "%u", tok.seq);
        else gfx_text(g, F_TINY, gfx_alpha((SDL_Color){ 20, 20, 28, 255 }, alpha), (int)x, (int)y,
                      GFX_CENTER | GFX_MIDDLE, "…%03u", tok.seq % 1000); /* the last digits fit */
    }
}

/* ---- header and footer ---------------------------------------------------- */

/* A rounded label; text that does not fit max_w is cut with an ellipsis. */
static int chip(gfx *g, int x, int y, int max_w, SDL_Color fill, SDL_Color ink, const char *text)
{
    char buf[200];
    snprintf(buf, sizeof buf, "%s", text);
    size_t n = strlen(buf);
    while (n > 1 && gfx_text_width(g, F_SMALL, buf) + 18 > max_w) {
        do n--; while (n > 1 && ((unsigned char)buf[n] & 0xC0) == 0x80); /* whole UTF-8 characters */
        snprintf(buf + n, sizeof buf - n, "…");
    }
    int w = gfx_text_width(g, F_SMALL, buf) + 18;
    gfx_round_rect(g, (SDL_Rect){ x, y, w, 22 }, 11, fill);
    gfx_text(g, F_SMALL, ink, x + 9, y + 11, GFX_MIDDLE, "%s", buf);
    return w;
}

static void draw_header(ctx *c)
{
    gfx *g = c->g;
    const viz_run_info *in = &c->m->info;
    gfx_rect(g, (SDL_Rect){ 0, 0, VIZ_W, 72 }, PANEL);
    gfx_rect(g, (SDL_Rect){ 0, 72, VIZ_W, 1 }, EDGE);
    /* the one-line summary goes on the top line, whole: a chip would cut it */
    gfx_text(g, F_SMALL, DIM, 24, 9, 0, "ipcplay visualizer  ·  family: %s  ·  %s", in->family,
             in->toy ? "NO LOCK: watch messages get lost" : in->summary);
    int x = 24 + gfx_text(g, F_H1, in->toy ? BAD : TEXT, 24, 26, 0, "%s", in->name) + 16;
    const int end = VIZ_W - 300; /* the playback status owns the right end */
    char wait[96];
    snprintf(wait, sizeof wait, "%s%s%s", in->wait_strategy ? ipc_wait_name(in->wait_strategy) : "",
             in->wait_strategy ? ": " : "", in->wait[0] ? in->wait : "?");
    x += chip(g, x, 32, end - x, in->wait_strategy == IPC_WAIT_SPIN ? gfx_alpha(viz_spin_color(), 0.6f)
                                                                   : (SDL_Color){ 55, 71, 99, 255 }, TEXT, wait) + 8;
    x += chip(g, x, 32, end - x, PANEL_HI, DIM, in->processes ? "actors: processes (fork)" : "actors: threads") + 8;
    char cap[64];
    if (in->capacity) snprintf(cap, sizeof cap, "capacity %zu", in->capacity);
    else snprintf(cap, sizeof cap, "no capacity in messages");
    chip(g, x, 32, end - x, PANEL_HI, DIM, cap);

    /* playback status, top right */
    const viz_ui *ui = c->ui;
    char st[96];
    SDL_Color col;
    double behind = (double)ui->behind_ns / 1e9;
    if (ui->paused) {
        snprintf(st, sizeof st, "❚❚ PAUSED  %.1f s behind", behind);
        col = ACCENT;
    } else if (ui->speed < 0.99) {
        snprintf(st, sizeof st, "▶ SLOW ×%.2g  %.1f s behind", ui->speed, behind);
        col = ACCENT;
    } else if (behind > 0.25) {
        snprintf(st, sizeof st, "▶ REPLAY  %.1f s behind", behind);
        col = ACCENT;
    } else {
        snprintf(st, sizeof st, "● LIVE");
        col = GOOD;
    }
    gfx_text(g, F_H2, col, VIZ_W - 24, 9, GFX_RIGHT, "%s", st);
    gfx_text(g, F_SMALL, DIM, VIZ_W - 24, 32, GFX_RIGHT, "t = %.2f s", (double)(c->t - c->m->t0) / 1e9);
    gfx_text(g, F_SMALL, DIM, VIZ_W - 24, 48, GFX_RIGHT, "producer work %d ms · consumer work %d ms",
             ui->send_delay_ms, ui->recv_delay_ms);
}

static void draw_footer(ctx *c)
{
    gfx *g = c->g;
    gfx_rect(g, (SDL_Rect){ 0, VIZ_H - 30, VIZ_W, 30 }, PANEL);
    gfx_text(g, F_SMALL, DIM, 24, VIZ_H - 15, GFX_MIDDLE,
             "h help · space pause · ←/→ rewind · ,/. step · z slow · m mechanism · p/c add · P/C remove"
             " · 1-4 speed · g predict · s screenshot");
    if (c->ui->status[0]) gfx_text(g, F_BOLD, ACCENT, VIZ_W - 24, VIZ_H - 15, GFX_RIGHT | GFX_MIDDLE, "%s", c->ui->status);
}

/* ---- actors --------------------------------------------------------------- */

static void draw_actor(ctx *c, int id)
{
    gfx *g = c->g;
    const viz_actor *a = &c->m->actors[id];
    SDL_Rect r = c->L.card[id];
    bool producer = viz_actor_role(id) == VIZ_PRODUCER;
    bool gone = a->state == VS_GONE, blocked = a->state == VS_BLOCKED_FULL || a->state == VS_BLOCKED_EMPTY;
    gfx_round_rect(g, r, 12, gone ? BG : PANEL);
    gfx_round_frame(g, r, 12, blocked ? 2 : 1, blocked ? shown_color(c->m, a->state) : EDGE);
    float cy = (float)r.y + (float)r.h / 2, av = (float)avatar_r(&c->L);
    SDL_Color face = producer ? viz_producer_color(id) : (SDL_Color){ 120, 144, 156, 255 };
    gfx_circle(g, (float)r.x + 12 + av, cy, av, gone ? gfx_alpha(face, 0.35f) : face);
    gfx_text(g, c->L.compact ? F_TINY : F_BOLD, (SDL_Color){ 20, 20, 28, 255 }, r.x + 12 + (int)av, (int)cy,
             GFX_CENTER | GFX_MIDDLE, "%c%d", producer ? 'P' : 'C', viz_actor_index(id));

    const char *label = shown_label(c->m, a->state);
    SDL_Rect b = badge_rect(g, &c->L, id, label);
    gfx_round_rect(g, b, b.h / 2, shown_color(c->m, a->state));
    gfx_text(g, F_BOLD, TEXT, b.x + 11, b.y + b.h / 2, GFX_MIDDLE, "%s", label);

    int tx = text_x(&c->L, id), right = r.x + r.w - 12;
    SDL_Color ink = gone ? FAINT : TEXT;
    double blocked_s = (double)(a->blocked_ns + (blocked ? c->t - a->since : 0)) / 1e9;
    if (c->L.compact) {
        gfx_text(g, F_SMALL, ink, right, (int)cy, GFX_RIGHT | GFX_MIDDLE, "%llu", (unsigned long long)a->count);
        return;
    }
    gfx_text(g, F_BOLD, ink, tx, r.y + 9, 0, "%s %d", producer ? "producer" : "consumer", viz_actor_index(id));
    /* CPU: what the actor burns now (live, not rewound): a spinning wait
     * shows as ~100% of what the machine gives it, a sleeping one ~0%. */
    double cpu = c->ui->cpu_pct[id];
    gfx_text(g, F_SMALL, gone ? FAINT : DIM, tx, r.y + 60, 0, "%s %llu · blocked %.1f s · CPU %.0f%%",
             producer ? "sent" : "got", (unsigned long long)a->count, blocked_s, cpu);
    if (!producer) { /* the last few it received, oldest left: the order is visible */
        int n = a->inbox_n < 3 ? a->inbox_n : 3;
        for (int k = 0; k < n; k++) {
            if (k == 0 && c->t - a->inbox[0].t < FLIGHT_NS) continue; /* still flying in */
            draw_token(c, (float)(right - 9 - k * 22), (float)r.y + 17, 9, a->inbox[k].tok, 1.0f - 0.2f * (float)k,
                       a->inbox[k].dup);
        }
    }
}

/* The message an actor holds at its door: a producer inside ipc_send, a
 * consumer working on what it received. */
static void draw_held(ctx *c, int id)
{
    const viz_actor *a = &c->m->actors[id];
    if (!a->holding) return;
    SDL_FPoint d = door(&c->L, id);
    if (viz_actor_role(id) == VIZ_PRODUCER) {
        bool blocked = a->state == VS_BLOCKED_FULL;
        if (blocked && viz_actor_spins(c->m, id)) { /* a fast spinner: retrying on a CPU */
            float turn = (float)((c->t - a->since) % 250000000LL) / 250000000.0f * 6.283f;
            float R = TOKEN_R + 8;
            for (int k = 0; k < 3; k++) {
                float u = turn + (float)k * 2.094f;
                gfx_line(c->g, d.x + (R - 5) * cosf(u), d.y + (R - 5) * sinf(u), d.x + (R + 3) * cosf(u),
                         d.y + (R + 3) * sinf(u), 3, viz_spin_color());
            }
        } else if (blocked) { /* a slow pulse: asleep */
            float phase = (float)((c->t - a->since) % 1000000000LL) / 1e9f;
            gfx_ring(c->g, d.x, d.y, TOKEN_R + 6 + 4 * sinf(phase * 6.283f), 2, gfx_alpha(BAD, 0.7f));
        }
        draw_token(c, d.x, d.y, TOKEN_R, a->held.tok, 1, false);
    } else if (a->inbox_n && c->t - a->inbox[0].t >= FLIGHT_NS) {
        draw_token(c, d.x, d.y, TOKEN_R, a->held.tok, a->state == VS_WORKING ? 1.0f : 0.4f, a->inbox[0].dup);
    }
}

/* ---- the channel ------------------------------------------------------------ */

static float ring_radius(const viz_model *m) { return m->info.capacity <= 8 ? 100.0f : 130.0f; }

/* Screen point of a message at `pos` (see model.c position()). */
static SDL_FPoint spot(const ctx *c, long pos)
{
    const viz_model *m = c->m;
    /* a ring with too many slots to draw is drawn as a line */
    switch (c->ring ? VIEW_RING : m->view == VIEW_RING ? VIEW_CONVEYOR : m->view) {
    case VIEW_RING: {
        float a = (-90.0f + 360.0f * (float)pos / (float)m->info.capacity) * (float)M_PI / 180.0f;
        float R = ring_radius(m);
        return (SDL_FPoint){ CX + R * cosf(a), CY + R * sinf(a) };
    }
    case VIEW_STACK:
        return (SDL_FPoint){ CX, 392.0f - (float)(pos < STACK_ROWS ? pos : STACK_ROWS - 1) * 34.0f };
    case VIEW_PRIORITY:
        return (SDL_FPoint){ CX - 120, CY - 126.0f + (float)(pos < STACK_ROWS ? pos : STACK_ROWS - 1) * 36.0f };
    case VIEW_MAILBOX:
        return (SDL_FPoint){ CX + 165 - (float)(pos % 6) * 66, 176.0f + (float)(pos / 6 < 4 ? pos / 6 : 3) * 46 };
    case VIEW_COUNTER: /* the left side of the counter box: messages go in there */
        return (SDL_FPoint){ CX - 120, CY + 30 };
    default: /* a line: next out at the right end */
        return (SDL_FPoint){ CX + 300 - (float)(pos < LINE_SLOTS ? pos : LINE_SLOTS) * 35.0f, CY };
    }
}

/* pos of the channel's message i (the model's own notion, for drawing). */
static long pos_of(const ctx *c, size_t i)
{
    const viz_model *m = c->m;
    if (c->ring) return (long)((m->removed + i) % m->info.capacity);
    if (m->view == VIEW_STACK) return (long)i;
    return i < LINE_SLOTS * 4 ? c->rank[i] : LINE_SLOTS;
}

static void caption(ctx *c, const char *title, const char *what)
{
    gfx_text(c->g, F_BOLD, TEXT, CHAN_X + 16, STAGE_Y + STAGE_H - 44, 0, "%s", title);
    gfx_text(c->g, F_SMALL, DIM, CHAN_X + 16, STAGE_Y + STAGE_H - 24, 0, "%s", what);
}

static void count_label(ctx *c, float x, float y)
{
    const viz_model *m = c->m;
    long depth = viz_model_depth(m);
    if (m->info.capacity)
        gfx_text(c->g, F_H1, TEXT, (int)x, (int)y, GFX_CENTER | GFX_MIDDLE, "%ld / %zu", depth, m->info.capacity);
    else
        gfx_text(c->g, F_H1, TEXT, (int)x, (int)y, GFX_CENTER | GFX_MIDDLE, "%ld", depth);
    gfx_text(c->g, F_SMALL, DIM, (int)x, (int)y + 22, GFX_CENTER | GFX_MIDDLE,
             m->info.toy ? "queued (its own racy count)" : m->depth >= 0 ? "queued (ipc_depth)" : "queued (from events)");
}

/* An arrow from outside the ring pointing at slot `pos`, with a label
 * beside its tail (to the side for the top and bottom slots, so it stays
 * clear of the wake-up arcs above the ring). */
static void marker(ctx *c, long pos, float R, SDL_Color col, const char *label)
{
    SDL_FPoint p = spot(c, pos);
    float ux = (p.x - CX) / R, uy = (p.y - CY) / R;
    float tx = CX + ux * (R + 54), ty = CY + uy * (R + 54);
    gfx_arrow(c->g, tx, ty, CX + ux * (R + 28), CY + uy * (R + 28), 3, col);
    if (uy < -0.7f || uy > 0.7f)
        gfx_text(c->g, F_BOLD, col, (int)tx + 8, (int)ty, GFX_LEFT | GFX_MIDDLE, "%s", label);
    else
        gfx_text(c->g, F_BOLD, col, (int)(tx + ux * 6), (int)(ty + uy * 6),
                 (ux > 0 ? GFX_LEFT : GFX_RIGHT) | GFX_MIDDLE, "%s", label);
}

static void view_ring(ctx *c)
{
    gfx *g = c->g;
    const viz_model *m = c->m;
    size_t cap = m->info.capacity;
    float R = ring_radius(m);
    gfx_ring(g, CX, CY, R + 26, 52, PANEL_HI);
    for (size_t s = 0; s < cap; s++) {
        SDL_FPoint p = spot(c, (long)s);
        gfx_circle(g, p.x, p.y, TOKEN_R + 3, SLOT);
        gfx_text(g, F_TINY, FAINT, (int)(CX + (p.x - CX) * (R - 40) / R), (int)(CY + (p.y - CY) * (R - 40) / R),
                 GFX_CENTER | GFX_MIDDLE, "%zu", s);
    }
    /* head: where the next receive takes from; tail: where the next send
     * puts.  Equal when the ring is empty or full. */
    long head = (long)(m->removed % cap), tail = (long)((m->removed + m->chan_n) % cap);
    marker(c, head, R, GOOD, head == tail ? (m->chan_n ? "head = tail (full)" : "head = tail (empty)") : "head");
    if (tail != head) marker(c, tail, R, ACCENT, "tail");
    count_label(c, CX, CY - 8);
    caption(c, m->info.toy ? "ring buffer WITHOUT a lock" : "ring buffer",
            m->info.toy ? "two senders can write one slot, two receivers can read one: watch"
                        : "head: next out (green) · tail: next free slot (yellow)");
}

static void view_line(ctx *c, const char *title, const char *what)
{
    gfx *g = c->g;
    const viz_model *m = c->m;
    SDL_FPoint out = spot(c, 0), in = spot(c, LINE_SLOTS - 1);
    SDL_Rect tube = { (int)in.x - 30, (int)CY - 30, (int)(out.x - in.x) + 60, 60 };
    if (m->view == VIEW_BROKER) { /* the server in between */
        SDL_Rect box = { tube.x - 20, tube.y - 64, tube.w + 40, tube.h + 110 };
        gfx_round_rect(g, box, 16, PANEL_HI);
        gfx_round_frame(g, box, 16, 2, EDGE);
        gfx_text(g, F_BOLD, DIM, box.x + 16, box.y + 12, 0, "broker server (%s)", m->info.name);
    }
    gfx_round_rect(g, tube, 30, m->view == VIEW_PIPE ? (SDL_Color){ 30, 52, 74, 255 } : PANEL_HI);
    gfx_round_frame(g, tube, 30, 2, m->view == VIEW_PIPE ? (SDL_Color){ 70, 120, 170, 255 } : EDGE);
    for (int k = 0; k < 6; k++) /* direction marks */
        gfx_arrow(g, (float)tube.x + 60 + (float)k * 100, CY + 40, (float)tube.x + 90 + (float)k * 100, CY + 40,
                  2, FAINT);
    gfx_text(g, F_SMALL, DIM, tube.x, tube.y - 8, GFX_BOTTOM, m->view == VIEW_PIPE ? "write end" : "in");
    gfx_text(g, F_SMALL, DIM, tube.x + tube.w, tube.y - 8, GFX_RIGHT | GFX_BOTTOM,
             m->view == VIEW_PIPE ? "read end" : "out");
    if (m->chan_n > LINE_SLOTS)
        gfx_text(g, F_BOLD, ACCENT, tube.x + 8, tube.y + tube.h + 26, 0, "+%zu more queued", m->chan_n - LINE_SLOTS);
    if (m->view == VIEW_PIPE) { /* fill level of the kernel buffer, in bytes */
        /* What the kernel holds is measured (FIONREAD after each call); the
         * rest of what was sent and not yet received sits in the receiver's
         * own read buffer, in user space.  Without a measurement, say so
         * rather than guess. */
        int64_t kernel = viz_model_kernel_bytes(m);
        uint64_t pending = viz_model_stream_bytes(m);
        double limit = 65536.0;
        SDL_Rect bar = { tube.x, tube.y + tube.h + 44, tube.w, 14 };
        gfx_round_rect(g, bar, 7, SLOT);
        double f = kernel > 0 ? (double)kernel / limit : 0;
        if (f > 0) gfx_round_rect(g, (SDL_Rect){ bar.x, bar.y, 14 + (int)((bar.w - 14) * (f > 1 ? 1 : f)), 14 }, 7,
                                  (SDL_Color){ 79, 163, 255, 255 });
        if (kernel >= 0)
            gfx_text(g, F_SMALL, DIM, bar.x, bar.y + 20, 0,
                     "kernel buffer: %lld bytes (FIONREAD; a pipe holds 64 KiB) · receiver's own buffer: %llu bytes",
                     (long long)kernel, (unsigned long long)(pending > (uint64_t)kernel ? pending - (uint64_t)kernel : 0));
        else
            gfx_text(g, F_SMALL, DIM, bar.x, bar.y + 20, 0, "%llu bytes sent and not yet received (kernel + reader's buffer)",
                     (unsigned long long)pending);
    }
    count_label(c, CX, CY - 92);
    caption(c, title, what);
}

/* Faint places for the first `n` positions, so the free room shows. */
static void places(ctx *c, size_t n, bool rows)
{
    for (size_t k = 0; k < n; k++) {
        SDL_FPoint p = spot(c, (long)k);
        if (rows) gfx_round_rect(c->g, (SDL_Rect){ (int)p.x - 20, (int)p.y - 15, 210, 30 }, 15, SLOT);
        else gfx_circle(c->g, p.x, p.y, TOKEN_R + 3, SLOT);
    }
}

static size_t shown_places(const viz_model *m, size_t most)
{
    return m->info.capacity && m->info.capacity < most ? m->info.capacity : most;
}

static void view_stack(ctx *c)
{
    gfx *g = c->g;
    size_t rows = shown_places(c->m, STACK_ROWS);
    float top = spot(c, (long)rows - 1).y - 22, bottom = spot(c, 0).y + 22;
    places(c, rows, false);
    gfx_line(g, CX - 28, top, CX - 28, bottom, 4, EDGE);
    gfx_line(g, CX + 28, top, CX + 28, bottom, 4, EDGE);
    gfx_line(g, CX - 30, bottom, CX + 30, bottom, 4, EDGE);
    if (c->m->chan_n) {
        SDL_FPoint p = spot(c, (long)c->m->chan_n - 1);
        gfx_arrow(g, CX + 110, p.y, CX + 40, p.y, 3, GOOD);
        gfx_text(g, F_BOLD, GOOD, (int)CX + 116, (int)p.y, GFX_MIDDLE, "top: next out (last in)");
    }
    if (c->m->chan_n > STACK_ROWS)
        gfx_text(g, F_BOLD, ACCENT, (int)CX, (int)top - 6, GFX_CENTER | GFX_BOTTOM, "%zu in the stack", c->m->chan_n);
    if (c->m->chan_n > 1)
        gfx_text(g, F_SMALL, DIM, (int)CX + 40, (int)bottom - 10, GFX_BOTTOM, "bottom: waits longest");
    count_label(c, CX - 190, CY);
    caption(c, "stack (LIFO)", "newest out first: the oldest may wait forever");
}

static void view_priority(ctx *c)
{
    gfx *g = c->g;
    places(c, shown_places(c->m, STACK_ROWS), true);
    for (size_t k = 0; k < c->n_order && k < STACK_ROWS; k++) {
        const viz_msg *msg = viz_model_msg(c->m, c->order[k]);
        SDL_FPoint p = spot(c, (long)k);
        int prio = msg->tok.prio < 0 ? 0 : msg->tok.prio;
        gfx_round_rect(g, (SDL_Rect){ (int)p.x + 20, (int)p.y - 11, 70 + 36 * prio, 22 }, 11,
                       gfx_alpha(viz_producer_color(msg->tok.producer), 0.5f));
        gfx_text(g, F_BOLD, TEXT, (int)p.x + 30, (int)p.y, GFX_MIDDLE, "prio %d", msg->tok.prio);
    }
    if (c->n_order) {
        SDL_FPoint p = spot(c, 0);
        gfx_arrow(g, p.x - 80, p.y, p.x - 24, p.y, 3, GOOD);
        gfx_text(g, F_BOLD, GOOD, (int)p.x - 86, (int)p.y, GFX_RIGHT | GFX_MIDDLE, "next out");
    }
    if (c->m->chan_n > STACK_ROWS)
        gfx_text(g, F_BOLD, ACCENT, (int)CX - 120, 412, GFX_BOTTOM, "+%zu more", c->m->chan_n - STACK_ROWS);
    count_label(c, CX + 210, CY);
    caption(c, "priority queue", "highest priority first; equal priorities first in, first out");
}

static void view_mailbox(ctx *c)
{
    gfx *g = c->g;
    SDL_Rect box = { (int)CX - 215, 140, 430, 210 };
    gfx_round_rect(g, box, 10, PANEL_HI);
    gfx_round_frame(g, box, 10, 2, EDGE);
    gfx_rect(g, (SDL_Rect){ (int)CX - 60, box.y - 4, 120, 8 }, SLOT); /* the slot letters go in */
    gfx_text(g, F_SMALL, DIM, box.x + 12, box.y + box.h - 20, 0, "kernel memory: survives the sender");
    if (c->m->chan_n) gfx_text(g, F_BOLD, GOOD, box.x + box.w - 10, box.y + box.h - 20, GFX_RIGHT, "next out: top right");
    count_label(c, CX, box.y + box.h + 22);
    caption(c, "mailbox (kernel message queue)",
            c->m->order == IPC_PRIORITY ? "the kernel keeps messages sorted by priority"
                                        : "the kernel keeps messages in order");
}

static void counter_box(ctx *c, SDL_Rect r, SDL_Color edge, enum gfx_font f, long value, const char *label)
{
    gfx_round_rect(c->g, r, 16, PANEL_HI);
    gfx_round_frame(c->g, r, 16, 3, edge);
    gfx_text(c->g, f, TEXT, r.x + r.w / 2, r.y + r.h / 2 - 8, GFX_CENTER | GFX_MIDDLE, "%ld", value);
    gfx_text(c->g, F_SMALL, DIM, r.x + r.w / 2, r.y + r.h - 14, GFX_CENTER | GFX_MIDDLE, "%s", label);
}

static void view_counter(ctx *c)
{
    const viz_model *m = c->m;
    bool signals = m->info.family_id == IPC_FAMILY_SIGNALS;
    long depth = viz_model_depth(m);
    counter_box(c, (SDL_Rect){ (int)CX - 120, (int)CY - 40, 240, 140 }, ACCENT, F_HUGE, depth,
                signals ? "signals pending (queued by the kernel)" : "items: messages to take");
    if (m->info.capacity) { /* the second semaphore: room left */
        long room = (long)m->info.capacity - depth;
        counter_box(c, (SDL_Rect){ (int)CX - 90, STAGE_Y + 20, 180, 90 }, (SDL_Color){ 79, 163, 255, 255 }, F_H1,
                    room < 0 ? 0 : room, "spaces: free slots");
        gfx_text(c->g, F_SMALL, DIM, (int)CX + 100, STAGE_Y + 66, GFX_MIDDLE, "a send takes a space (waits at 0)");
        gfx_text(c->g, F_SMALL, DIM, (int)CX + 130, (int)CY + 30, GFX_MIDDLE, "a receive takes an item");
    }
    caption(c, signals ? "signal delivery" : "event counters (semaphores)",
            signals ? "each message is a queued real-time signal" : "a send adds an item, a receive takes one");
}

/* A message in the picture: an envelope in a mailbox, a token elsewhere. */
static void draw_msg(ctx *c, float x, float y, viz_token tok, float alpha, bool alarm)
{
    if (c->m->view != VIEW_MAILBOX || c->ring) {
        draw_token(c, x, y, TOKEN_R, tok, alpha, alarm);
        return;
    }
    gfx *g = c->g;
    SDL_Color col = gfx_alpha(viz_producer_color(tok.producer), alpha), ink = gfx_alpha((SDL_Color){ 20, 20, 28, 255 }, alpha);
    SDL_Rect r = { (int)x - 32, (int)y - 17, 64, 34 };
    gfx_round_rect(g, r, 4, col);
    gfx_line(g, (float)r.x + 2, (float)r.y + 2, x, y + 1, 2, ink);            /* the flap */
    gfx_line(g, x, y + 1, (float)(r.x + r.w) - 2, (float)r.y + 2, 2, ink);
    if (alarm) gfx_round_frame(g, (SDL_Rect){ r.x - 4, r.y - 4, r.w + 8, r.h + 8 }, 6, 3, gfx_alpha(BAD, alpha));
    gfx_text(g, F_TINY, ink, (int)x, r.y + r.h - 2, GFX_CENTER | GFX_BOTTOM, "prio %d", tok.prio); /* "p0" is producer 0 elsewhere */
}

/* How many positions the view has room for; further messages wait unseen
 * (a stack clamps them onto its top row instead: the top is what leaves). */
static long view_places(const ctx *c)
{
    if (c->ring) return LONG_MAX;
    switch (c->m->view) {
    case VIEW_STACK: case VIEW_COUNTER: return LONG_MAX;
    case VIEW_PRIORITY: return STACK_ROWS;
    case VIEW_MAILBOX:  return 24;
    default:            return LINE_SLOTS;
    }
}

/* Where a message taken out at `pos` leaves from. */
static SDL_FPoint exit_point(const ctx *c, long pos)
{
    if (c->ring || c->m->view == VIEW_STACK) return spot(c, pos);
    if (c->m->view == VIEW_COUNTER) return (SDL_FPoint){ CX + 120, CY + 30 };
    return spot(c, 0);
}

static void draw_channel_messages(ctx *c)
{
    const viz_model *m = c->m;
    size_t shown = c->ring ? m->chan_n : c->n_order;
    for (size_t k = 0; k < shown; k++) {
        size_t i = c->ring ? k : c->order[k];
        const viz_msg *msg = viz_model_msg(m, i);
        long pos = pos_of(c, i);
        if (pos >= view_places(c)) continue;
        SDL_FPoint to = spot(c, pos);
        int64_t age = c->t - msg->t_in;
        /* into a counter a message dissolves: only the number stays */
        float alpha = m->view == VIEW_COUNTER && !c->ring ? fade(age, FLIGHT_NS) : 1.0f;
        if (age < FLIGHT_NS && msg->tok.producer < VIZ_MAX_PRODUCERS && c->L.shown[msg->tok.producer]) {
            SDL_FPoint from = door(&c->L, msg->tok.producer);
            float f = ease((float)age / (float)FLIGHT_NS);
            to = (SDL_FPoint){ from.x + (to.x - from.x) * f, from.y + (to.y - from.y) * f };
        }
        if (alpha > 0) draw_msg(c, to.x, to.y, msg->tok, alpha, false);
    }
}

static void draw_flights(ctx *c)
{
    const viz_model *m = c->m;
    bool labelled = false; /* only the newest bad flight is labelled: stacked labels are unreadable */
    uint32_t n = m->flight_n < VIZ_FLIGHTS ? m->flight_n : VIZ_FLIGHTS;
    for (uint32_t k = 1; k <= n; k++) {
        const viz_flight *f = &m->flights[(m->flight_n - k) % VIZ_FLIGHTS];
        int64_t age = c->t - f->t;
        if (age >= FLIGHT_NS) break; /* older ones have all landed */
        if (age < 0 || !c->L.shown[f->consumer]) continue;
        SDL_FPoint from = exit_point(c, f->pos), to = door(&c->L, f->consumer);
        float e = ease((float)age / (float)FLIGHT_NS);
        float x = from.x + (to.x - from.x) * e, y = from.y + (to.y - from.y) * e;
        draw_msg(c, x, y, f->msg.tok, 1, f->dup || f->garbage);
        if ((f->dup || f->garbage) && !labelled) {
            gfx_text(c->g, F_BOLD, BAD, (int)x, (int)y - 22, GFX_CENTER | GFX_BOTTOM, f->dup ? "DUPLICATE" : "GARBAGE");
            labelled = true;
        }
    }
}

static void draw_losses(ctx *c)
{
    const viz_model *m = c->m;
    uint32_t n = m->loss_n < VIZ_LOSSES ? m->loss_n : VIZ_LOSSES;
    for (uint32_t k = 1; k <= n; k++) {
        const viz_loss *l = &m->losses[(m->loss_n - k) % VIZ_LOSSES];
        int64_t age = c->t - l->t;
        if (age < 0 || age >= LOSS_NS) continue;
        float a = fade(age, LOSS_NS);
        SDL_FPoint p = spot(c, l->pos);
        float dx = p.x - CX, dy = p.y - CY, len = sqrtf(dx * dx + dy * dy) + 1;
        p.x += dx / len * 40.0f * (1 - a); /* it drops out of the ring */
        p.y += dy / len * 40.0f * (1 - a);
        draw_msg(c, p.x, p.y, l->msg.tok, a, true);
        gfx_line(c->g, p.x - 12, p.y - 12, p.x + 12, p.y + 12, 4, gfx_alpha(BAD, a));
        gfx_line(c->g, p.x - 12, p.y + 12, p.x + 12, p.y - 12, 4, gfx_alpha(BAD, a));
        if (k == 1) gfx_text(c->g, F_BOLD, gfx_alpha(BAD, a), (int)p.x, (int)p.y + 20, GFX_CENTER, "LOST: overwritten");
    }
}

static void draw_arrows(ctx *c)
{
    const viz_model *m = c->m;
    uint32_t n = m->arrow_n < VIZ_ARROWS ? m->arrow_n : VIZ_ARROWS;
    for (uint32_t k = 1; k <= n && k <= 4; k++) { /* the newest four: more is a tangle */
        const viz_arrow *w = &m->arrows[(m->arrow_n - k) % VIZ_ARROWS];
        int64_t age = c->t - w->t;
        if (age < 0 || age >= ARROW_NS || !c->L.shown[w->from] || !c->L.shown[w->to]) continue;
        SDL_Rect a = c->L.card[w->from], b = c->L.card[w->to];
        bool from_consumer = viz_actor_role(w->from) == VIZ_CONSUMER;
        float x1 = from_consumer ? (float)a.x + 30 : (float)(a.x + a.w) - 30, y1 = from_consumer ? (float)a.y : (float)(a.y + a.h);
        float x2 = from_consumer ? (float)(b.x + b.w) - 30 : (float)b.x + 30, y2 = from_consumer ? (float)b.y : (float)(b.y + b.h);
        /* the arc's apex sits just above (or below) the channel panel */
        float apex = from_consumer ? STAGE_Y - 6 : STAGE_Y + STAGE_H + 6;
        float cy = 2 * apex - (y1 + y2) / 2;
        SDL_Color col = gfx_alpha(ACCENT, fade(age, ARROW_NS));
        gfx_curve_arrow(c->g, x1, y1, CX, cy, x2, y2, 3, col);
        if (k == 1) /* only the newest is labelled: stacked labels are unreadable */
            gfx_text(c->g, F_BOLD, col, (int)CX, (int)apex + (from_consumer ? -4 : 4),
                 GFX_CENTER | (from_consumer ? GFX_BOTTOM : GFX_TOP), "%c%d wakes %c%d",
                 from_consumer ? 'C' : 'P', viz_actor_index(w->from), from_consumer ? 'P' : 'C',
                 viz_actor_index(w->to));
    }
}

static void draw_channel(ctx *c)
{
    const viz_model *m = c->m;
    gfx_round_rect(c->g, (SDL_Rect){ CHAN_X, STAGE_Y, CHAN_W, STAGE_H }, 14, (SDL_Color){ 22, 27, 35, 255 });
    c->ring = m->view == VIEW_RING && m->info.capacity > 0 && m->info.capacity <= RING_MAX;
    c->n_order = viz_model_order_out(m, c->order, sizeof c->order / sizeof c->order[0]);
    for (size_t k = 0; k < sizeof c->rank / sizeof c->rank[0]; k++) c->rank[k] = LINE_SLOTS;
    for (size_t k = 0; k < c->n_order; k++)
        if (c->order[k] < sizeof c->rank / sizeof c->rank[0]) c->rank[c->order[k]] = (long)k;

    if (c->ring) view_ring(c);
    else switch (m->view) {
    case VIEW_STACK:    view_stack(c); break;
    case VIEW_PRIORITY: view_priority(c); break;
    case VIEW_MAILBOX:  view_mailbox(c); break;
    case VIEW_COUNTER:  view_counter(c); break;
    case VIEW_PIPE:     view_line(c, "byte stream", "length-prefixed frames in the kernel's buffer"); break;
    case VIEW_BROKER:   view_line(c, "message broker", "the messages wait in another process, the server"); break;
    case VIEW_RING:     view_line(c, "ring buffer", "too many slots to draw: shown as a line, next out at the right"); break;
    default:            view_line(c, "queue (unbounded)", "first in, first out: next out at the right"); break;
    }
    draw_channel_messages(c);
    draw_losses(c);
}

/* ---- timelines, counters, plots -------------------------------------------- */

static void draw_timeline(ctx *c)
{
    gfx *g = c->g;
    const viz_model *m = c->m;
    SDL_Rect panel = { 24, 448, 812, 234 };
    gfx_round_rect(g, panel, 12, PANEL);
    gfx_text(g, F_BOLD, TEXT, panel.x + 16, panel.y + 10, 0, "timeline · last 10 s");
    static const enum viz_state legend[] = { VS_WORKING, VS_SENDING, VS_BLOCKED_FULL, VS_BLOCKED_EMPTY, VS_IDLE, VS_GONE };
    static const char *names[] = { "working", "in call", "blocked: full", "blocked: empty", "resting", "gone" };
    static const char *spin_names[] = { "working", "in call", "spinning: full", "spinning: empty", "resting", "gone" };
    bool spins = m->info.wait_strategy == IPC_WAIT_SPIN;
    int lx = panel.x + 190;
    for (size_t k = 0; k < sizeof legend / sizeof legend[0]; k++) {
        gfx_round_rect(g, (SDL_Rect){ lx, panel.y + 13, 12, 12 }, 3, shown_color(m, legend[k]));
        lx += 18 + gfx_text(g, F_SMALL, DIM, lx + 16, panel.y + 12, 0, "%s", spins ? spin_names[k] : names[k]) + 12;
    }
    int n = c->L.n[0] + c->L.n[1];
    if (!n) return;
    int x0 = panel.x + 56, x1 = panel.x + panel.w - 16, top = panel.y + 40, avail = panel.h - 62;
    int lane_h = avail / n - 4 > 22 ? 22 : avail / n - 4;
    int64_t start = c->t - LANE_NS;
    float scale = (float)(x1 - x0) / (float)LANE_NS;
    for (int s = 0; s <= 10; s += 5) { /* second marks */
        int x = x0 + (int)((float)s * 1e9f * scale);
        gfx_rect(g, (SDL_Rect){ x, top - 2, 1, n * (lane_h + 4) + 2 }, EDGE);
        gfx_text(g, F_TINY, FAINT, x, top + n * (lane_h + 4) + 2, GFX_CENTER, s == 10 ? "now" : "%d s", s - 10);
    }
    int row = 0;
    for (int id = 0; id < VIZ_MAX_ACTORS; id++) {
        if (!c->L.shown[id]) continue;
        const viz_actor *a = &m->actors[id];
        int y = top + row++ * (lane_h + 4);
        bool producer = viz_actor_role(id) == VIZ_PRODUCER;
        gfx_text(g, F_BOLD, producer ? viz_producer_color(id) : DIM, panel.x + 16, y + lane_h / 2, GFX_MIDDLE,
                 "%c%d", producer ? 'P' : 'C', viz_actor_index(id));
        gfx_rect(g, (SDL_Rect){ x0, y, x1 - x0, lane_h }, (SDL_Color){ 22, 27, 35, 255 });
        uint32_t kept = a->lane_n < VIZ_LANE_MAX ? a->lane_n : VIZ_LANE_MAX;
        int64_t end = c->t;
        for (uint32_t k = 1; k <= kept && end > start; k++) { /* newest change first */
            const viz_lane_entry *e = &a->lane[(a->lane_n - k) % VIZ_LANE_MAX];
            if (e->t > c->t) continue; /* (not reached at this playback time) */
            int64_t from = e->t < start ? start : e->t;
            int xa = x0 + (int)((float)(from - start) * scale), xb = x0 + (int)((float)(end - start) * scale);
            if (xb > xa) gfx_rect(g, (SDL_Rect){ xa, y, xb - xa, lane_h }, shown_color(m, (enum viz_state)e->state));
            end = e->t;
        }
    }
    if (m->closed && m->t_closed >= start) {
        int x = x0 + (int)((float)(m->t_closed - start) * scale);
        gfx_rect(g, (SDL_Rect){ x, top - 4, 2, n * (lane_h + 4) }, TEXT);
        gfx_text(g, F_TINY, TEXT, x + 4, top - 6, GFX_BOTTOM, "ipc_close");
    }
}

typedef double (*series_fn)(const viz_model *m, uint32_t k);

static double depth_at(const viz_model *m, uint32_t k) { return (double)m->samples[k % VIZ_SAMPLES].depth; }

static double rate_at(const viz_model *m, uint32_t k) /* msgs/s over the second before sample k */
{
    uint32_t back = k >= 10 ? 10 : k;
    if (!back) return 0;
    const viz_sample *a = &m->samples[(k - back) % VIZ_SAMPLES], *b = &m->samples[k % VIZ_SAMPLES];
    return (double)(b->received - a->received) * 1e9 / (double)(b->t - a->t);
}

static void plot(ctx *c, SDL_Rect r, const char *title, series_fn f, double floor_max, SDL_Color col)
{
    gfx *g = c->g;
    const viz_model *m = c->m;
    gfx_round_rect(g, r, 8, (SDL_Color){ 22, 27, 35, 255 });
    uint32_t n = m->sample_n < 100 ? m->sample_n : 100; /* 10 s of samples */
    double max = floor_max;
    for (uint32_t k = 0; k < n; k++) {
        double v = f(m, m->sample_n - 1 - k);
        if (v > max) max = v;
    }
    gfx_text(g, F_SMALL, DIM, r.x + 8, r.y + 4, 0, "%s", title);
    gfx_text(g, F_TINY, FAINT, r.x + r.w - 6, r.y + 6, GFX_RIGHT, "max %.0f", max);
    float px = 0, py = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = m->sample_n - n + k;
        float x = (float)r.x + 6 + (float)(r.w - 12) * (float)(100 - n + k) / 99.0f;
        float y = (float)(r.y + r.h - 6) - (float)(r.h - 26) * (float)(f(m, i) / max);
        if (k) gfx_line(g, px, py, x, y, 2, col);
        px = x;
        py = y;
    }
}

static void draw_stats(ctx *c)
{
    gfx *g = c->g;
    const viz_model *m = c->m;
    SDL_Rect panel = { 852, 448, 404, 234 };
    gfx_round_rect(g, panel, 12, PANEL);
    /* Faster than the trace can be read, events are lost (gaps): then sent
     * and received come from the run's own counters, not from the picture. */
    bool partial = m->gaps > 0;
    const viz_run_counts *rc = &c->ui->counts;
    gfx_text(g, F_BOLD, TEXT, panel.x + 16, panel.y + 10, 0, partial ? "counters (sent/received: the run's own)"
                                                                      : "counters (from the trace)");
    /* Time in the queue counts the messages still waiting too (their age so
     * far): a starved message must show in the tail, not vanish from it. */
    int64_t w[3] = { viz_model_wait(m, 50, c->t), viz_model_wait(m, 99, c->t), viz_model_oldest_wait(m, c->t) };
    static const char *label[6] = { "sent", "received", "queued", "oldest waiting", "wait p50", "wait p99" };
    char v[6][32];
    snprintf(v[0], 32, "%llu", (unsigned long long)(partial ? rc->sent : m->sent));
    snprintf(v[1], 32, "%llu", (unsigned long long)(partial ? rc->received : m->received));
    snprintf(v[2], 32, "%ld", viz_model_depth(m));
    for (int k = 0; k < 3; k++) {
        int64_t ns = w[(k + 2) % 3]; /* oldest, p50, p99 */
        if (ns < 0) snprintf(v[3 + k], 32, "–");
        else if (ns < 1000000) snprintf(v[3 + k], 32, "%.0f µs", (double)ns / 1e3);
        else if (ns < 10000000000LL) snprintf(v[3 + k], 32, "%.2f s", (double)ns / 1e9);
        else snprintf(v[3 + k], 32, "%.0f s", (double)ns / 1e9);
    }
    for (int k = 0; k < 6; k++) {
        int x = panel.x + 16 + (k % 3) * 130, y = panel.y + 34 + (k / 3) * 44;
        gfx_text(g, F_H2, TEXT, x, y, 0, "%s", v[k]);
        gfx_text(g, F_TINY, DIM, x, y + 21, 0, "%s", label[k]);
    }
    int y = panel.y + 124;
    if (partial)
        gfx_text(g, F_BOLD, ACCENT, panel.x + 16, y - 4, 0, "%llu events lost: too fast to draw each",
                 (unsigned long long)m->gap_events);
    else if (m->info.toy || m->lost || m->dups || m->garbage)
        gfx_text(g, F_BOLD, BAD, panel.x + 16, y - 4, 0, "lost %llu · duplicated %llu · garbage %llu",
                 (unsigned long long)m->lost, (unsigned long long)m->dups, (unsigned long long)m->garbage);
    else
        gfx_text(g, F_SMALL, DIM, panel.x + 16, y - 4, 0, "blocked on full %llu× · on empty %llu× · CPU P %.0f%% C %.0f%%",
                 (unsigned long long)m->blocks_full, (unsigned long long)m->blocks_empty,
                 viz_side_cpu(c->ui, VIZ_PRODUCER), viz_side_cpu(c->ui, VIZ_CONSUMER));
    double cap = m->info.capacity ? (double)m->info.capacity : 1;
    plot(c, (SDL_Rect){ panel.x + 16, y + 16, 180, 70 }, "depth", depth_at, cap, (SDL_Color){ 79, 163, 255, 255 });
    plot(c, (SDL_Rect){ panel.x + 208, y + 16, 180, 70 }, partial ? "msgs/s (in the trace)" : "msgs/s", rate_at, 1, GOOD);
    gfx_text(g, F_TINY, FAINT, panel.x + 16, panel.y + panel.h - 14, 0,
             "live run: sent %llu · received %llu%s%s", (unsigned long long)rc->sent,
             (unsigned long long)rc->received, rc->finished ? " · finished" : rc->closed ? " · closed" : "",
             c->ui->counts.error[0] ? " · error (see status)" : "");
}

/* ---- overlays ---------------------------------------------------------------- */

static void draw_predict(ctx *c)
{
    const viz_ui *ui = c->ui;
    if (ui->predict == PREDICT_OFF) return;
    gfx *g = c->g;
    SDL_Rect r = { CHAN_X + 40, STAGE_Y + 50, CHAN_W - 80, 46 };
    SDL_Color edge = ui->predict == PREDICT_VERDICT ? (ui->predict_right ? GOOD : BAD) : ACCENT;
    gfx_round_rect(g, r, 12, gfx_alpha(PANEL, 0.95f));
    gfx_round_frame(g, r, 12, 2, edge);
    gfx_text(g, F_BOLD, edge, r.x + r.w / 2, r.y + r.h / 2, GFX_CENTER | GFX_MIDDLE, "%s", ui->predict_text);
    gfx_text(g, F_SMALL, DIM, r.x + r.w - 10, r.y + r.h + 4, GFX_RIGHT, "score %d / %d", ui->score_right,
             ui->score_total);
}

static void draw_help(ctx *c)
{
    gfx *g = c->g;
    gfx_rect(g, (SDL_Rect){ 0, 0, VIZ_W, VIZ_H }, (SDL_Color){ 0, 0, 0, 170 });
    SDL_Rect r = { 200, 90, 880, 540 };
    gfx_round_rect(g, r, 16, PANEL);
    gfx_round_frame(g, r, 16, 2, ACCENT);
    gfx_text(g, F_H1, TEXT, r.x + 30, r.y + 22, 0, "Keys");
    gfx_text(g, F_SMALL, DIM, r.x + 30, r.y + 56, 0,
             "The picture replays the recorded trace: pausing or rewinding never slows the real run.");
    static const char *keys[][2] = {
        { "space", "pause / resume the playback" },   { ". ,", "one event forward / back (paused)" },
        { "← →", "rewind / forward 1 s" },           { "Home End", "oldest kept / back to live" },
        { "z", "slow motion ×1 → ×¼ → ×1/16" },      { "m M", "next / previous mechanism (restarts)" },
        { "u", "the broken UNLOCKED toy queue" },    { "t", "threads ↔ processes (fork)" },
        { "p P", "add / remove a producer" },         { "c C", "add / remove a consumer" },
        { "1 2", "producers slower / faster" },       { "3 4", "consumers slower / faster" },
        { "- +", "capacity smaller / larger (restarts)" }, { "r", "restart the run" },
        { "g", "predict who blocks next" },           { "s", "screenshot (PNG)" },
        { "h", "this help" },                         { "q Esc", "quit" },
    };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int x = r.x + 30 + (int)(k % 2) * 420, y = r.y + 92 + (int)(k / 2) * 36;
        gfx_round_rect(g, (SDL_Rect){ x, y, 84, 26 }, 6, PANEL_HI);
        gfx_text(g, F_BOLD, ACCENT, x + 42, y + 13, GFX_CENTER | GFX_MIDDLE, "%s", keys[k][0]);
        gfx_text(g, F_TEXT, TEXT, x + 96, y + 13, GFX_MIDDLE, "%s", keys[k][1]);
    }
    gfx_text(g, F_SMALL, DIM, r.x + 30, r.y + r.h - 30, 0,
             "Badges: red = blocked on a full channel, orange = blocked on an empty one. Yellow arrows: who woke whom.");
}

/* ---- the frame --------------------------------------------------------------- */

void viz_render(gfx *g, const viz_player *p, const viz_ui *ui)
{
    ctx c = { .g = g, .m = &p->cur, .ui = ui, .t = p->t };
    layout_actors(c.m, &c.L);
    SDL_Renderer *r = gfx_renderer(g);
    SDL_SetRenderDrawColor(r, BG.r, BG.g, BG.b, 255);
    SDL_RenderClear(r);
    draw_header(&c);
    draw_channel(&c);
    for (int id = 0; id < VIZ_MAX_ACTORS; id++)
        if (c.L.shown[id]) draw_actor(&c, id);
    for (int id = 0; id < VIZ_MAX_ACTORS; id++)
        if (c.L.shown[id]) draw_held(&c, id);
    draw_flights(&c);
    draw_arrows(&c);
    draw_timeline(&c);
    draw_stats(&c);
    draw_footer(&c);
    draw_predict(&c);
    if (ui->help) draw_help(&c);
    gfx_frame_end(g);
}
