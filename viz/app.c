/*
 * app.c — the visualizer program: command line, window or off-screen
 * target, keys, playback clock and the "predict who blocks next" game.
 *
 * Two clocks run here.  The real run (run.c) goes at its own speed and
 * records every call into the trace.  The playback time `t` decides what
 * is drawn: normally it follows the wall clock (LIVE), but it can stop,
 * crawl, step one event or jump back, and it is only ever a position in
 * the recorded history — the run never waits for the picture.
 */
#define _GNU_SOURCE
#include "app.h"

#include <SDL_image.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HISTORY_MAX  (1u << 20)        /* recorded events kept for rewind  */
#define REWIND_NS    1000000000LL
#define WATCH_MAX_NS 15000000000LL     /* predict: give up after 15 s      */
#define VERDICT_S    3.0               /* predict: show the verdict so long */

typedef struct rate_sample {
    int64_t  t;
    uint64_t received;
    int64_t  cpu_ns[VIZ_MAX_ACTORS];
} rate_sample;

struct viz_app {
    viz_app_opts  o;
    viz_scenario  sc;                  /* the scenario of the current run  */
    viz_scenario  want;                /* what the user asked for: processes,
                                          producers, consumers.  A mechanism
                                          that cannot do them runs with less
                                          (the status line says so); the next
                                          one gets them back. */
    SDL_Window   *win;
    SDL_Renderer *ren;
    SDL_Surface  *surface;             /* headless target                  */
    gfx          *g;
    viz_run      *run;
    viz_player    player;
    viz_ui        ui;
    int64_t       status_until;        /* wall ns                          */
    bool          live;                /* playback follows the wall clock  */
    int64_t       last_frame;          /* wall clock of the previous frame */
    rate_sample   rate[32];            /* the run's counter, frame by frame */
    unsigned      rate_n;
    bool          want_shot;
    int           shots;
    int           frame_no;            /* frames drawn so far              */
    /* predict who blocks next */
    enum viz_role guess;
    int64_t       ask_t;               /* playback time of the question    */
    double        verdict_left;
};

static void status(viz_app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void status(viz_app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->ui.status, sizeof a->ui.status, fmt, ap);
    va_end(ap);
    a->status_until = ipc_now_ns() + 4000000000LL;
}

/* ---- runs ------------------------------------------------------------------ */

/* Start sc; the old run (if any) ends only once the new one is going. */
static int start(viz_app *a, const viz_scenario *sc, char *err, size_t errlen)
{
    viz_run *run;
    if (viz_run_start(sc, &run, err, errlen) != 0) return -1;
    viz_player fresh;
    if (viz_player_init(&fresh, viz_run_info_of(run), HISTORY_MAX) != 0) {
        viz_run_free(run);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (a->run) {
        viz_run_free(a->run);
        viz_player_free(&a->player);
    }
    a->run = run;
    a->player = fresh;
    a->sc = *sc;
    a->ui.paused = false;
    a->ui.speed = 1;
    a->live = true;
    a->rate_n = 0; /* a new run counts from zero */
    return 0;
}

static void restart(viz_app *a, const viz_scenario *sc)
{
    char err[300];
    if (start(a, sc, err, sizeof err) != 0) status(a, "%s", err);
    else status(a, "running %s (%s)", sc->mech, sc->processes ? "processes" : "threads");
}

/* ---- set-up ---------------------------------------------------------------- */

static int open_target(viz_app *a, char *err, size_t errlen)
{
    if (a->o.headless) {
        /* An off-screen surface and the software renderer: no display, no
         * video driver at all.  Pixels are read straight from the surface. */
        a->surface = SDL_CreateRGBSurfaceWithFormat(0, VIZ_W, VIZ_H, 32, SDL_PIXELFORMAT_ARGB8888);
        if (a->surface) a->ren = SDL_CreateSoftwareRenderer(a->surface);
        if (!a->ren) {
            snprintf(err, errlen, "off-screen renderer: %s", SDL_GetError());
            return -1;
        }
        return 0;
    }
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        snprintf(err, errlen, "SDL_Init: %s (no display? try --headless, or xvfb-run)", SDL_GetError());
        return -1;
    }
    /* With no display SDL quietly falls back to an invisible driver: say so
     * instead of running a window nobody can see (unless asked for). */
    const char *driver = SDL_GetCurrentVideoDriver();
    if (driver && (!strcmp(driver, "offscreen") || !strcmp(driver, "dummy"))) {
        if (!getenv("SDL_VIDEODRIVER")) {
            snprintf(err, errlen, "no display found (SDL fell back to its '%s' driver): "
                     "run it on a desktop, under xvfb-run, or with --headless --out DIR", driver);
            return -1;
        }
        fprintf(stderr, "ipcviz: SDL_VIDEODRIVER=%s: the window is invisible\n", driver);
    }
    a->win = SDL_CreateWindow("ipcplay visualizer", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, VIZ_W, VIZ_H,
                              SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (!a->win) {
        snprintf(err, errlen, "cannot open a window: %s (no display? try --headless, or xvfb-run)", SDL_GetError());
        return -1;
    }
    a->ren = SDL_CreateRenderer(a->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
    if (!a->ren) a->ren = SDL_CreateRenderer(a->win, -1, SDL_RENDERER_SOFTWARE);
    if (!a->ren) {
        snprintf(err, errlen, "SDL_CreateRenderer: %s", SDL_GetError());
        return -1;
    }
    SDL_RenderSetLogicalSize(a->ren, VIZ_W, VIZ_H); /* a resized window scales the picture */
    return 0;
}

int viz_app_create(const viz_app_opts *o, viz_app **out, char *err, size_t errlen)
{
    *out = NULL;
    viz_app *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->o = *o;
    a->want = o->sc;
    if (a->o.fps <= 0) a->o.fps = 30;
    a->ui.speed = 1;
    if (open_target(a, err, errlen) != 0 || gfx_open(&a->g, a->ren, o->font, err, errlen) != 0
        || start(a, &o->sc, err, errlen) != 0) {
        viz_app_destroy(a);
        return -1;
    }
    if (o->predict) viz_app_key(a, SDLK_g, 0);
    *out = a;
    return 0;
}

void viz_app_destroy(viz_app *a)
{
    if (!a) return;
    if (a->run) {
        viz_run_free(a->run);
        viz_player_free(&a->player);
    }
    gfx_close(a->g);
    if (a->ren) SDL_DestroyRenderer(a->ren);
    if (a->surface) SDL_FreeSurface(a->surface);
    if (a->win) SDL_DestroyWindow(a->win);
    if (!a->o.headless) SDL_Quit();
    free(a);
}

const viz_player *viz_app_player(const viz_app *a) { return &a->player; }
const viz_ui *viz_app_ui(const viz_app *a) { return &a->ui; }
viz_run *viz_app_run(viz_app *a) { return a->run; }
gfx *viz_app_gfx(viz_app *a) { return a->g; }

/* ---- predict who blocks next ---------------------------------------------- */

static void ask(viz_app *a)
{
    a->ui.predict = PREDICT_ASK;
    a->ui.paused = true;
    a->live = false; /* the answer is watched from the moment of the question */
    snprintf(a->ui.predict_text, sizeof a->ui.predict_text,
             "Who blocks next?  p = a producer (full)   c = a consumer (empty)");
}

static void answer(viz_app *a, enum viz_role guess)
{
    a->guess = guess;
    a->ask_t = a->player.t;
    a->ui.predict = PREDICT_WATCH;
    a->ui.paused = false;
    snprintf(a->ui.predict_text, sizeof a->ui.predict_text, "You said: a %s.  Watching…",
             guess == VIZ_PRODUCER ? "producer, on a full channel" : "consumer, on an empty channel");
}

static void judge(viz_app *a, double dt)
{
    const viz_model *m = &a->player.cur;
    if (a->ui.predict == PREDICT_VERDICT) {
        if ((a->verdict_left -= dt) <= 0) ask(a);
        return;
    }
    if (a->ui.predict != PREDICT_WATCH) return;
    if (m->last_block.actor >= 0 && m->last_block.t > a->ask_t) {
        int id = m->last_block.actor;
        bool producer = viz_actor_role(id) == VIZ_PRODUCER;
        a->ui.predict_right = producer == (a->guess == VIZ_PRODUCER);
        a->ui.score_right += a->ui.predict_right;
        a->ui.score_total++;
        snprintf(a->ui.predict_text, sizeof a->ui.predict_text, "%s %c%d blocked after %.1f s: the channel was %s",
                 a->ui.predict_right ? "✔ Right!" : "✘ Not this time:", producer ? 'P' : 'C',
                 viz_actor_index(id), (double)(m->last_block.t - a->ask_t) / 1e9, producer ? "full" : "empty");
    } else if (a->player.t - a->ask_t > WATCH_MAX_NS) {
        a->ui.predict_right = false;
        snprintf(a->ui.predict_text, sizeof a->ui.predict_text, "Nobody blocked for 15 s (no score)");
    } else {
        return;
    }
    a->ui.predict = PREDICT_VERDICT;
    a->verdict_left = VERDICT_S;
}

/* ---- keys ------------------------------------------------------------------ */

static int mech_count(void)
{
    size_t n;
    ipc_mechanisms(&n);
    return (int)n + 1; /* + the toy */
}

static const char *mech_name(int i)
{
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    return i < (int)n ? all[i]->name : VIZ_TOY_NAME;
}

static void switch_mech(viz_app *a, int dir)
{
    int n = mech_count(), i = 0;
    while (i < n && strcmp(mech_name(i), a->sc.mech)) i++;
    viz_scenario sc = a->sc;
    char why[200] = "";
    for (int k = 0; k < n; k++) { /* the next one that can run this way, or with less */
        i = ((i + dir) % n + n) % n;
        snprintf(sc.mech, sizeof sc.mech, "%s", mech_name(i));
        sc.processes = a->want.processes;
        sc.producers = a->want.producers;
        sc.consumers = a->want.consumers;
        sc.wait = a->want.wait;
        why[0] = '\0';
        if (viz_scenario_check(&sc, why, sizeof why) != 0) sc.wait = 0; /* the mechanism's own strategy */
        if (viz_scenario_check(&sc, why, sizeof why) != 0) sc.processes = false;
        if (viz_scenario_check(&sc, why, sizeof why) != 0) sc.producers = sc.consumers = 1; /* not MPMC */
        if (viz_scenario_check(&sc, why, sizeof why) == 0) break;
    }
    restart(a, &sc);
    if (sc.processes != a->want.processes || sc.producers != a->want.producers || sc.consumers != a->want.consumers)
        status(a, "%s runs with %s, %d producer%s, %d consumer%s: %s", sc.mech, sc.processes ? "processes" : "threads",
               sc.producers, sc.producers == 1 ? "" : "s", sc.consumers, sc.consumers == 1 ? "" : "s", why);
}

static void change_delay(viz_app *a, enum viz_role role, bool faster)
{
    int ms = viz_run_delay(a->run, role);
    int now = faster ? (ms < 8 ? 0 : ms * 2 / 3) : (ms < 7 ? ms + 10 : ms * 3 / 2);
    viz_run_set_delay(a->run, role, now);
    if (role == VIZ_PRODUCER) a->sc.send_delay_ms = now;
    else a->sc.recv_delay_ms = now;
    status(a, "%s work per message: %d → %d ms", role == VIZ_PRODUCER ? "producer" : "consumer", ms, now);
}

static void change_capacity(viz_app *a, bool larger)
{
    const viz_run_info *in = viz_run_info_of(a->run);
    if (!(in->caps & IPC_CAP_BOUNDED)) {
        status(a, "'%s' has no capacity in messages: send bigger ones (--msg-size) to fill it", in->name);
        return;
    }
    viz_scenario sc = a->sc;
    size_t cap = in->capacity ? in->capacity : 4;
    sc.capacity = larger ? cap * 2 : cap > 1 ? cap / 2 : 1;
    restart(a, &sc);
}

static void add_remove(viz_app *a, enum viz_role role, bool add)
{
    char err[200];
    int id = add ? viz_run_add(a->run, role, err, sizeof err) : viz_run_remove(a->run, role, err, sizeof err);
    if (id < 0) {
        status(a, "%s", err);
        return;
    }
    status(a, "%s %c%d", add ? "started" : "stopping", role == VIZ_PRODUCER ? 'P' : 'C', viz_actor_index(id));
    int *count = role == VIZ_PRODUCER ? &a->want.producers : &a->want.consumers;
    *count += add ? 1 : -1;
}

static void seek_by(viz_app *a, int64_t dt)
{
    a->live = false;
    viz_player_seek(&a->player, a->player.t + dt);
}

static void screenshot(viz_app *a)
{
    a->want_shot = true; /* taken in the next frame, before it is presented */
}

bool viz_app_key(viz_app *a, SDL_Keycode key, Uint16 mod)
{
    bool shift = mod & KMOD_SHIFT;
    if (a->ui.predict == PREDICT_ASK && (key == SDLK_p || key == SDLK_c)) {
        answer(a, key == SDLK_p ? VIZ_PRODUCER : VIZ_CONSUMER);
        return false;
    }
    switch (key) {
    case SDLK_q: case SDLK_ESCAPE:
        if (a->ui.help && key == SDLK_ESCAPE) { a->ui.help = false; break; }
        return true;
    case SDLK_h: case SDLK_F1: a->ui.help = !a->ui.help; break;
    /* Pausing, stepping, rewinding and slowing leave LIVE: playback then
     * resumes from where it is (REPLAY) until it catches up or End. */
    case SDLK_SPACE: a->ui.paused = !a->ui.paused; a->live = false; break;
    case SDLK_PERIOD: a->ui.paused = true; a->live = false; viz_player_step(&a->player, +1); break;
    case SDLK_COMMA: a->ui.paused = true; a->live = false; viz_player_step(&a->player, -1); break;
    case SDLK_LEFT: seek_by(a, -REWIND_NS); break;
    case SDLK_RIGHT: seek_by(a, REWIND_NS); break;
    case SDLK_HOME: seek_by(a, viz_player_first_t(&a->player) - a->player.t); break;
    case SDLK_END:
        a->ui.paused = false;
        a->ui.speed = 1;
        a->live = true;
        viz_player_seek(&a->player, ipc_now_ns());
        break;
    case SDLK_z:
        a->live = false;
        a->ui.speed = a->ui.speed > 0.5 ? 0.25 : a->ui.speed > 0.1 ? 0.0625 : 1;
        status(a, "playback speed ×%g", a->ui.speed);
        break;
    case SDLK_m: switch_mech(a, shift ? -1 : +1); break;
    case SDLK_u: {
        viz_scenario sc = a->sc;
        snprintf(sc.mech, sizeof sc.mech, "%s", VIZ_TOY_NAME);
        sc.processes = false;
        restart(a, &sc);
        break;
    }
    case SDLK_t: {
        viz_scenario sc = a->sc;
        sc.processes = !sc.processes;
        char why[200];
        if (viz_scenario_check(&sc, why, sizeof why) != 0) status(a, "%s", why);
        else {
            a->want.processes = sc.processes;
            restart(a, &sc);
        }
        break;
    }
    case SDLK_r: restart(a, &a->sc); break;
    case SDLK_p: add_remove(a, VIZ_PRODUCER, !shift); break;
    case SDLK_c: add_remove(a, VIZ_CONSUMER, !shift); break;
    case SDLK_1: change_delay(a, VIZ_PRODUCER, false); break;
    case SDLK_2: change_delay(a, VIZ_PRODUCER, true); break;
    case SDLK_3: change_delay(a, VIZ_CONSUMER, false); break;
    case SDLK_4: change_delay(a, VIZ_CONSUMER, true); break;
    case SDLK_MINUS: case SDLK_KP_MINUS: change_capacity(a, false); break;
    case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: change_capacity(a, true); break;
    case SDLK_g:
        if (a->ui.predict == PREDICT_OFF) ask(a);
        else { /* the game is over: back to live */
            a->ui.predict = PREDICT_OFF;
            a->ui.paused = false;
            a->live = true;
        }
        break;
    case SDLK_s: screenshot(a); break;
    default: break;
    }
    return false;
}

/* ---- frames ------------------------------------------------------------------ */

static SDL_Surface *grab(viz_app *a, bool *owned)
{
    *owned = false;
    if (a->surface) return a->surface;
    int w, h;
    if (SDL_GetRendererOutputSize(a->ren, &w, &h) != 0) return NULL;
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
    if (!s) return NULL;
    /* must come before SDL_RenderPresent: afterwards the back buffer is undefined */
    if (SDL_RenderReadPixels(a->ren, NULL, SDL_PIXELFORMAT_ARGB8888, s->pixels, s->pitch) != 0) {
        SDL_FreeSurface(s);
        return NULL;
    }
    *owned = true;
    return s;
}

int viz_app_save_png(viz_app *a, const char *path, char *err, size_t errlen)
{
    bool owned;
    SDL_Surface *s = grab(a, &owned);
    int rc = s ? IMG_SavePNG(s, path) : -1;
    if (rc != 0) snprintf(err, errlen, "cannot save %s: %s", path, s ? IMG_GetError() : SDL_GetError());
    if (owned) SDL_FreeSurface(s);
    return rc ? -1 : 0;
}

bool viz_app_pixel(viz_app *a, int x, int y, SDL_Color *out)
{
    if (!a->surface || x < 0 || y < 0 || x >= a->surface->w || y >= a->surface->h) return false;
    Uint32 px = ((const Uint32 *)a->surface->pixels)[y * (a->surface->pitch / 4) + x];
    SDL_GetRGBA(px, a->surface->format, &out->r, &out->g, &out->b, &out->a);
    return true;
}

/* Where key s saves: --out DIR if given, else ~/ipcviz-screenshots (made
 * on first use; /tmp/ipcviz-screenshots without a HOME) — never the current
 * directory, which may be the source tree or not writable. */
static int shot_dir(const viz_app *a, char *dir, size_t size)
{
    if (a->o.out_dir) {
        snprintf(dir, size, "%s", a->o.out_dir);
        return 0;
    }
    const char *home = getenv("HOME");
    snprintf(dir, size, "%s/ipcviz-screenshots", home && *home ? home : "/tmp");
    return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void take_screenshot(viz_app *a)
{
    char dir[400], path[512], err[600];
    if (shot_dir(a, dir, sizeof dir) != 0) {
        status(a, "screenshot: cannot create %s: %s (use --out DIR)", dir, strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/ipcviz-%s-%03d.png", dir, a->sc.mech, ++a->shots);
    if (viz_app_save_png(a, path, err, sizeof err) != 0) status(a, "%s", err);
    else status(a, "saved %s", path);
}

static void advance(viz_app *a, double dt)
{
    viz_player *p = &a->player;
    int64_t now = ipc_now_ns();
    if (a->ui.paused) {
        viz_player_seek(p, p->t);           /* new events are recorded, not shown */
    } else if (a->live) {
        viz_player_seek(p, now);            /* however long the frame took */
    } else {
        int64_t t = p->t + (int64_t)(dt * a->ui.speed * 1e9);
        if (t >= now) {                     /* caught up with the run */
            t = now;
            a->live = a->ui.speed >= 1;
        }
        viz_player_seek(p, t);
    }
    a->ui.behind_ns = now - p->t > 0 ? now - p->t : 0;
}

/* The run's own messages/s over the last second or so of frames: what the
 * counters show when the trace cannot keep up. */
static void measure_rate(viz_app *a, int64_t now)
{
    unsigned n = a->rate_n < 32 ? a->rate_n : 32, k = 1;
    while (k < n && now - a->rate[(a->rate_n - k) % 32].t < 1000000000LL) k++;
    if (n) {
        const rate_sample *old = &a->rate[(a->rate_n - k) % 32];
        a->ui.run_rate = now > old->t ? (double)(a->ui.counts.received - old->received) * 1e9 / (double)(now - old->t) : 0;
        /* CPU% over the same window: a spinning wait burns ~100% of a CPU
         * (what the machine can give it), a sleeping one ~0%.  A slot whose
         * actor was replaced restarts from 0: no negative share. */
        for (int i = 0; i < VIZ_MAX_ACTORS; i++) {
            int64_t used = a->ui.counts.cpu_ns[i] - old->cpu_ns[i];
            a->ui.cpu_pct[i] = now > old->t && used > 0 ? 100.0 * (double)used / (double)(now - old->t) : 0;
        }
    }
    rate_sample *s = &a->rate[a->rate_n % 32];
    s->t = now;
    s->received = a->ui.counts.received;
    memcpy(s->cpu_ns, a->ui.counts.cpu_ns, sizeof s->cpu_ns);
    a->rate_n++;
}

int viz_app_frame(viz_app *a)
{
    /* Playback moves by the real time between frames: a slow frame (a busy
     * machine, a sanitizer) shows the same moment a fast one would. */
    int64_t now = ipc_now_ns();
    double dt = a->last_frame ? (double)(now - a->last_frame) / 1e9 : 0;
    a->last_frame = now;
    if (viz_player_ingest(&a->player, viz_run_trace(a->run)) < 0) return -1;
    viz_run_poll(a->run);
    viz_run_counts_of(a->run, &a->ui.counts);
    measure_rate(a, now);
    if (a->ui.counts.error[0] && !a->ui.status[0]) status(a, "%s", a->ui.counts.error);
    advance(a, dt);
    judge(a, dt);
    if (a->ui.status[0] && ipc_now_ns() > a->status_until) a->ui.status[0] = '\0';
    a->ui.send_delay_ms = viz_run_delay(a->run, VIZ_PRODUCER);
    a->ui.recv_delay_ms = viz_run_delay(a->run, VIZ_CONSUMER);
    viz_render(a->g, &a->player, &a->ui);
    SDL_RenderFlush(a->ren);
    if (a->want_shot) {
        a->want_shot = false;
        take_screenshot(a);
    }
    int rc = 0;
    if (a->o.frames && a->o.out_dir) { /* recording: every frame, before it is presented */
        char path[512], err[600];
        snprintf(path, sizeof path, "%s/frame_%05d.png", a->o.out_dir, a->frame_no);
        if ((rc = viz_app_save_png(a, path, err, sizeof err)) != 0) fprintf(stderr, "ipcviz: %s\n", err);
    }
    a->frame_no++;
    if (a->win) SDL_RenderPresent(a->ren);
    return rc;
}

/* ---- the program ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ipcviz [options]\n"
        "Animates real producer and consumer threads (or processes) on any ipcplay\n"
        "mechanism, from the events the library's observer hook records.\n\n"
        "  --mech NAME            mechanism (see --list; '%s' is the broken toy queue)\n"
        "  --producers N          producers at the start (1..%d)\n"
        "  --consumers N          consumers at the start (1..%d)\n"
        "  --capacity N           messages the channel holds (0 = mechanism default)\n"
        "  --send-delay-ms MS     a producer's work between messages\n"
        "  --recv-delay-ms MS     a consumer's work after each message\n"
        "  --burst N --pause-ms MS  producers send N messages, then rest MS (0 = no rest)\n"
        "  --messages N           carry N messages, then close the channel (0 = endless)\n"
        "  --msg-size BYTES       message size (%d..%d)\n"
        "  --processes | --threads  actors are forked processes (needs IPC_CAP_FORK) or threads\n"
        "  --wait STRATEGY        block, spin or adaptive (default: the mechanism's own); a\n"
        "                         spinning side is drawn purple, SPINNING, with its CPU%%\n"
        "  --scenario FILE|NAME   'key = value' lines with the keys above (flags override);\n"
        "                         a NAME is a ready-made lesson (viz/scenarios/NAME.scn,\n"
        "                         installed in <prefix>/share/ipcplay/scenarios)\n"
        "  --predict              start in 'predict who blocks next' mode\n"
        "  --headless             render off-screen: no display needed (default 90 frames)\n"
        "  --frames N             stop after N frames (also in a window)\n"
        "  --out DIR              with --frames: write every frame to DIR/frame_NNNNN.png;\n"
        "                         screenshots (key s) go here too (default:\n"
        "                         ~/ipcviz-screenshots)\n"
        "  --fps N                frames per second (default 30)\n"
        "  --font FILE.ttf        instead of $IPCVIZ_FONT or %s\n"
        "  --list                 list the mechanisms\n"
        "  --help                 this text; press h in the window for the keys\n\n"
        "default: 2 fast producers, 1 slow consumer, 4 slots: full, blocked, drained.\n",
        VIZ_TOY_NAME, VIZ_MAX_PRODUCERS, VIZ_MAX_CONSUMERS, VIZ_MSG_MIN, VIZ_MSG_MAX, VIZ_FONT_PATH);
}

static void list(void)
{
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    for (size_t i = 0; i < n; i++) {
        const ipc_mechanism *m = all[i];
        printf("%-15s %-8s %s\n", m->name, m->family, m->summary);
        printf("%-15s %-8s wait: %s%s%s\n", "", "", m->wait_strategy,
               (m->caps & IPC_CAP_FORK) && !(m->caps & IPC_CAP_PEER) ? " · --processes works" : "",
               m->caps & IPC_CAP_MPMC ? "" : " · one producer, one consumer");
    }
    printf("%-15s %-8s %s\n", VIZ_TOY_NAME, "(toy)",
           "the deliberately broken queue, no lock: watch messages get lost and duplicated");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int ensure_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "ipcviz: cannot create %s: %s\n", dir, strerror(errno));
    return -1;
}

/* 0 = run, 1 = done (help/list printed), 2 = bad usage */
static int parse_args(int argc, char **argv, viz_app_opts *o)
{
    char err[400];
    viz_scenario_default(&o->sc);
    for (int i = 1; i < argc; i++) /* the file first, so flags override it */
        if (!strcmp(argv[i], "--scenario")) {
            if (i + 1 >= argc) { fprintf(stderr, "ipcviz: --scenario needs a file\n"); return 2; }
            if (viz_scenario_load(&o->sc, argv[++i], err, sizeof err) != 0) {
                fprintf(stderr, "ipcviz: %s\n", err);
                return 2;
            }
        }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) { usage(stdout); return 1; }
        if (!strcmp(arg, "--list")) { list(); return 1; }
        if (!strcmp(arg, "--headless")) { o->headless = true; continue; }
        if (!strcmp(arg, "--predict")) { o->predict = true; continue; }
        if (!strcmp(arg, "--processes") || !strcmp(arg, "--threads")) { o->sc.processes = arg[2] == 'p'; continue; }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "ipcviz: unexpected argument '%s' (see --help)\n", arg);
            return 2;
        }
        if (!val) {
            fprintf(stderr, "ipcviz: %s needs a value (see --help)\n", arg);
            return 2;
        }
        i++;
        if (!strcmp(arg, "--scenario")) continue; /* done above */
        if (!strcmp(arg, "--frames") || !strcmp(arg, "--fps")) {
            int *dst = arg[2] == 'f' && arg[3] == 'r' ? &o->frames : &o->fps;
            if (parse_int(val, 1, 1000000, dst) != 0) {
                fprintf(stderr, "ipcviz: %s: '%s' is not a number from 1 to 1000000\n", arg, val);
                return 2;
            }
        } else if (!strcmp(arg, "--out")) {
            o->out_dir = val;
        } else if (!strcmp(arg, "--font")) {
            o->font = val;
        } else if (viz_scenario_set(&o->sc, arg + 2, val, err, sizeof err) != 0) {
            fprintf(stderr, "ipcviz: --%s (see --help)\n", err);
            return 2;
        }
    }
    if (viz_scenario_check(&o->sc, err, sizeof err) != 0) {
        fprintf(stderr, "ipcviz: %s\n", err);
        return 2;
    }
    if (o->headless && !o->frames) o->frames = 90;
    if (o->out_dir && ensure_dir(o->out_dir) != 0) return 2;
    return 0;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) continue;
}

/* The frame loop.  Headless frames are paced at fps of real time too: the
 * run they show goes at real speed.  With --frames the loop ends after that
 * many frames (in a window as well, which is how the window is tested). */
static int run(viz_app *a, const viz_app_opts *o)
{
    int64_t frame_ns = 1000000000LL / o->fps, start = ipc_now_ns();
    for (int i = 0; !o->frames || i < o->frames; i++) {
        SDL_Event ev;
        while (!o->headless && SDL_PollEvent(&ev)) {
            if (ev.type == SDL_QUIT) return 0;
            if (ev.type == SDL_KEYDOWN && viz_app_key(a, ev.key.keysym.sym, ev.key.keysym.mod)) return 0;
        }
        sleep_until(start + i * frame_ns);
        if (viz_app_frame(a) != 0) {
            fprintf(stderr, "ipcviz: frame %d failed (out of memory, or see above)\n", i);
            return 1;
        }
    }
    const viz_model *m = &viz_app_player(a)->cur;
    const viz_run_counts *c = &viz_app_ui(a)->counts;
    printf("ipcviz: %d frames of %s; trace: sent %llu, received %llu; run: sent %llu, received %llu%s%s\n",
           o->frames, m->info.name, (unsigned long long)m->sent, (unsigned long long)m->received,
           (unsigned long long)c->sent, (unsigned long long)c->received, c->error[0] ? "; error: " : "", c->error);
    return 0;
}

int viz_main(int argc, char **argv)
{
    viz_app_opts o = { .fps = 30 };
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : 2;
    char err[600];
    viz_app *a;
    if (viz_app_create(&o, &a, err, sizeof err) != 0) {
        fprintf(stderr, "ipcviz: %s\n", err);
        return 1;
    }
    rc = run(a, &o);
    viz_app_destroy(a);
    return rc;
}
