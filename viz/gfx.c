/*
 * gfx.c — shapes as triangle lists for SDL_RenderGeometry, and text
 * rendered once by SDL2_ttf and kept as textures while it stays on screen
 * (a frame redraws the same few dozen labels; rasterising them every frame
 * would dominate the software renderer's time).
 */
#define _GNU_SOURCE
#include "gfx.h"

#include <SDL_ttf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXT_CACHE   384
#define TEXT_KEY_MAX 96
#define TEXT_MAX_AGE 90      /* frames a label may go unused before it is freed */
#define MAX_VERTS    1024

typedef struct text_entry {
    SDL_Texture *tex;        /* NULL: free entry */
    int          font, w, h;
    SDL_Color    color;
    unsigned     used;       /* frame it was last drawn */
    char         s[TEXT_KEY_MAX];
} text_entry;

struct gfx {
    SDL_Renderer *r;
    TTF_Font     *font[F__COUNT];
    text_entry    cache[TEXT_CACHE];
    unsigned      frame;
    SDL_Vertex    v[MAX_VERTS];
    int           idx[MAX_VERTS * 3];
};

static const struct { int size; bool bold; } font_spec[F__COUNT] = {
    [F_TINY] = { 11, true }, [F_SMALL] = { 12, false }, [F_TEXT] = { 13, false }, /* legible on a projector */
    [F_BOLD] = { 13, true }, [F_H2] = { 16, true }, [F_H1] = { 24, true }, [F_HUGE] = { 40, true },
};

int gfx_open(gfx **out, SDL_Renderer *r, const char *font_path, char *err, size_t errlen)
{
    *out = NULL;
    /* --font, else $IPCVIZ_FONT (a system without Debian's font path), else DejaVu
     * from the Debian package: fonts are the system's, never installed with ipcviz. */
    const char *env = getenv("IPCVIZ_FONT");
    if (!font_path && env && *env) font_path = env;
    const char *regular = font_path ? font_path : VIZ_FONT_PATH;
    /* Bold comes from the same package; a custom font is used for both. */
    const char *bold = font_path ? font_path : access(VIZ_FONT_BOLD, R_OK) == 0 ? VIZ_FONT_BOLD : regular;
    if (access(regular, R_OK) != 0) {
        snprintf(err, errlen, "font %s not found: install the Debian package %s (or pass --font FILE.ttf, or set IPCVIZ_FONT)",
                 regular, VIZ_FONT_PKG);
        return -1;
    }
    if (!TTF_WasInit() && TTF_Init() != 0) {
        snprintf(err, errlen, "TTF_Init: %s", TTF_GetError());
        return -1;
    }
    gfx *g = SDL_calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        TTF_Quit();
        return -1;
    }
    g->r = r;
    for (int i = 0; i < F__COUNT; i++) {
        const char *path = font_spec[i].bold ? bold : regular;
        g->font[i] = TTF_OpenFont(path, font_spec[i].size);
        if (!g->font[i]) {
            snprintf(err, errlen, "TTF_OpenFont(%s): %s", path, TTF_GetError());
            gfx_close(g);
            return -1;
        }
    }
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);
    *out = g;
    return 0;
}

void gfx_close(gfx *g)
{
    if (!g) return;
    for (int i = 0; i < TEXT_CACHE; i++)
        if (g->cache[i].tex) SDL_DestroyTexture(g->cache[i].tex);
    for (int i = 0; i < F__COUNT; i++)
        if (g->font[i]) TTF_CloseFont(g->font[i]);
    SDL_free(g);
    TTF_Quit();
}

SDL_Renderer *gfx_renderer(gfx *g) { return g->r; }

void gfx_frame_end(gfx *g)
{
    g->frame++;
    for (int i = 0; i < TEXT_CACHE; i++) {
        text_entry *e = &g->cache[i];
        if (e->tex && g->frame - e->used > TEXT_MAX_AGE) {
            SDL_DestroyTexture(e->tex);
            e->tex = NULL;
        }
    }
}

/* ---- text ----------------------------------------------------------------- */

static bool same_color(SDL_Color a, SDL_Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

/* The cached texture for (font, color, s).  Text too long to cache is
 * rendered into *tmp, which the caller then destroys. */
static text_entry *lookup(gfx *g, enum gfx_font f, SDL_Color c, const char *s, text_entry *tmp)
{
    bool cacheable = strlen(s) < TEXT_KEY_MAX;
    text_entry *victim = NULL;
    if (cacheable) {
        for (int i = 0; i < TEXT_CACHE; i++) {
            text_entry *e = &g->cache[i];
            if (e->tex && e->font == (int)f && same_color(e->color, c) && !strcmp(e->s, s)) {
                e->used = g->frame;
                return e;
            }
            if (!victim || !e->tex || (victim->tex && e->used < victim->used)) victim = e;
        }
    }
    SDL_Surface *surf = TTF_RenderUTF8_Blended(g->font[f], s, (SDL_Color){ c.r, c.g, c.b, 255 });
    if (!surf) return NULL;
    SDL_Texture *tex = SDL_CreateTextureFromSurface(g->r, surf);
    int w = surf->w, h = surf->h;
    SDL_FreeSurface(surf);
    if (!tex) return NULL;
    text_entry *e = cacheable ? victim : tmp;
    if (e->tex) SDL_DestroyTexture(e->tex);
    *e = (text_entry){ .tex = tex, .font = f, .w = w, .h = h, .color = c, .used = g->frame };
    if (cacheable) memcpy(e->s, s, strlen(s) + 1); /* fits: checked above */
    return e;
}

int gfx_text(gfx *g, enum gfx_font f, SDL_Color c, int x, int y, int anchor, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!buf[0]) return 0;
    text_entry tmp = { 0 };
    text_entry *e = lookup(g, f, c, buf, &tmp);
    if (!e) return 0;
    SDL_Rect dst = { x, y, e->w, e->h };
    if ((anchor & 3) == GFX_CENTER) dst.x -= e->w / 2;
    if ((anchor & 3) == GFX_RIGHT) dst.x -= e->w;
    if (anchor & GFX_MIDDLE) dst.y -= e->h / 2;
    if (anchor & GFX_BOTTOM) dst.y -= e->h;
    SDL_SetTextureAlphaMod(e->tex, c.a);
    SDL_RenderCopy(g->r, e->tex, NULL, &dst);
    if (e == &tmp) SDL_DestroyTexture(tmp.tex);
    return e->w;
}

int gfx_text_width(gfx *g, enum gfx_font f, const char *s)
{
    int w = 0;
    TTF_SizeUTF8(g->font[f], s, &w, NULL);
    return w;
}

int gfx_font_height(gfx *g, enum gfx_font f) { return TTF_FontHeight(g->font[f]); }

/* ---- shapes ------------------------------------------------------------- */

static void vert(gfx *g, int i, float x, float y, SDL_Color c)
{
    g->v[i] = (SDL_Vertex){ .position = { x, y }, .color = c };
}

/* Fill the convex polygon g->v[1..n] as a fan around g->v[0]. */
static void fan(gfx *g, int n)
{
    int k = 0;
    for (int i = 1; i <= n; i++) {
        g->idx[k++] = 0;
        g->idx[k++] = i;
        g->idx[k++] = i % n + 1;
    }
    SDL_RenderGeometry(g->r, NULL, g->v, n + 1, g->idx, k);
}

/* A band between the closed outlines v[0..n) (outer) and v[n..2n) (inner). */
static void band(gfx *g, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        int j = (i + 1) % n;
        g->idx[k++] = i;     g->idx[k++] = j;     g->idx[k++] = n + i;
        g->idx[k++] = n + i; g->idx[k++] = j;     g->idx[k++] = n + j;
    }
    SDL_RenderGeometry(g->r, NULL, g->v, 2 * n, g->idx, k);
}

static int segments(float radius)
{
    int n = (int)(radius * 1.5f);
    return n < 12 ? 12 : n > 96 ? 96 : n;
}

void gfx_rect(gfx *g, SDL_Rect r, SDL_Color c)
{
    SDL_SetRenderDrawColor(g->r, c.r, c.g, c.b, c.a);
    SDL_RenderFillRect(g->r, &r);
}

void gfx_circle(gfx *g, float cx, float cy, float radius, SDL_Color c)
{
    int n = segments(radius);
    vert(g, 0, cx, cy, c);
    for (int i = 0; i < n; i++) {
        float a = 2.0f * (float)M_PI * (float)i / (float)n;
        vert(g, i + 1, cx + radius * cosf(a), cy + radius * sinf(a), c);
    }
    fan(g, n);
}

void gfx_ring(gfx *g, float cx, float cy, float radius, float thick, SDL_Color c)
{
    int n = segments(radius);
    for (int i = 0; i < n; i++) {
        float a = 2.0f * (float)M_PI * (float)i / (float)n, ca = cosf(a), sa = sinf(a);
        vert(g, i, cx + radius * ca, cy + radius * sa, c);
        vert(g, n + i, cx + (radius - thick) * ca, cy + (radius - thick) * sa, c);
    }
    band(g, n);
}

/* The outline of a rounded rectangle inset by `inset`, into v[first..]. */
static int round_outline(gfx *g, int first, SDL_Rect r, float radius, float inset, SDL_Color c)
{
    const int per = 6;
    float rad = radius - inset < 0 ? 0 : radius - inset;
    float x0 = (float)r.x + inset, y0 = (float)r.y + inset;
    float x1 = (float)(r.x + r.w) - inset, y1 = (float)(r.y + r.h) - inset;
    const float corners[4][3] = { /* centre x, centre y, start angle */
        { x1 - rad, y0 + rad, -90 }, { x1 - rad, y1 - rad, 0 },
        { x0 + rad, y1 - rad, 90 },  { x0 + rad, y0 + rad, 180 },
    };
    int n = first;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i <= per; i++) {
            float a = (corners[k][2] + 90.0f * (float)i / (float)per) * (float)M_PI / 180.0f;
            vert(g, n++, corners[k][0] + rad * cosf(a), corners[k][1] + rad * sinf(a), c);
        }
    return n - first;
}

static int clamp_radius(SDL_Rect r, int radius)
{
    int m = (r.w < r.h ? r.w : r.h) / 2;
    return radius > m ? m : radius;
}

void gfx_round_rect(gfx *g, SDL_Rect r, int radius, SDL_Color c)
{
    radius = clamp_radius(r, radius);
    vert(g, 0, (float)r.x + (float)r.w / 2, (float)r.y + (float)r.h / 2, c);
    fan(g, round_outline(g, 1, r, (float)radius, 0, c));
}

void gfx_round_frame(gfx *g, SDL_Rect r, int radius, int thick, SDL_Color c)
{
    radius = clamp_radius(r, radius);
    int n = round_outline(g, 0, r, (float)radius, 0, c);
    round_outline(g, n, r, (float)radius, (float)thick, c);
    band(g, n);
}

void gfx_line(gfx *g, float x1, float y1, float x2, float y2, float thick, SDL_Color c)
{
    float dx = x2 - x1, dy = y2 - y1, len = sqrtf(dx * dx + dy * dy);
    if (len < 0.01f) return;
    float nx = -dy / len * thick / 2, ny = dx / len * thick / 2;
    vert(g, 0, x1 + nx, y1 + ny, c);
    vert(g, 1, x2 + nx, y2 + ny, c);
    vert(g, 2, x2 - nx, y2 - ny, c);
    vert(g, 3, x1 - nx, y1 - ny, c);
    const int q[6] = { 0, 1, 2, 0, 2, 3 };
    SDL_RenderGeometry(g->r, NULL, g->v, 4, q, 6);
}

static void head(gfx *g, float x, float y, float dx, float dy, float size, SDL_Color c)
{
    float len = sqrtf(dx * dx + dy * dy);
    if (len < 0.01f) return;
    dx /= len;
    dy /= len;
    vert(g, 0, x, y, c);
    vert(g, 1, x - dx * size - dy * size * 0.6f, y - dy * size + dx * size * 0.6f, c);
    vert(g, 2, x - dx * size + dy * size * 0.6f, y - dy * size - dx * size * 0.6f, c);
    SDL_RenderGeometry(g->r, NULL, g->v, 3, NULL, 0);
}

void gfx_arrow(gfx *g, float x1, float y1, float x2, float y2, float thick, SDL_Color c)
{
    float size = 4 + thick * 2.5f;
    float dx = x2 - x1, dy = y2 - y1, len = sqrtf(dx * dx + dy * dy);
    if (len < size) return;
    gfx_line(g, x1, y1, x2 - dx / len * size * 0.8f, y2 - dy / len * size * 0.8f, thick, c);
    head(g, x2, y2, dx, dy, size, c);
}

void gfx_curve_arrow(gfx *g, float x1, float y1, float cx, float cy, float x2, float y2,
                     float thick, SDL_Color c)
{
    const int n = 24;
    float px = x1, py = y1;
    for (int i = 1; i <= n - 2; i++) {
        float t = (float)i / (float)n, u = 1 - t;
        float x = u * u * x1 + 2 * u * t * cx + t * t * x2;
        float y = u * u * y1 + 2 * u * t * cy + t * t * y2;
        gfx_line(g, px, py, x, y, thick, c);
        gfx_circle(g, x, y, thick / 2, c); /* round joints */
        px = x;
        py = y;
    }
    gfx_arrow(g, px, py, x2, y2, thick, c);
}
