/*
 * gfx.h — the few drawing primitives the visualizer needs on top of an
 * SDL_Renderer (filled circles, rounded rectangles, thick lines, arrows,
 * curves) and cached text with SDL2_ttf.
 */
#ifndef IPCVIZ_GFX_H
#define IPCVIZ_GFX_H

#include <SDL.h>
#include <stdbool.h>
#include <stddef.h>

#define VIZ_FONT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define VIZ_FONT_BOLD "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#define VIZ_FONT_PKG  "fonts-dejavu-core"

enum gfx_font { F_TINY, F_SMALL, F_TEXT, F_BOLD, F_H2, F_H1, F_HUGE, F__COUNT };

/* Text anchors: which point of the text box (x, y) names. */
enum { GFX_LEFT = 0, GFX_CENTER = 1, GFX_RIGHT = 2, GFX_TOP = 0, GFX_MIDDLE = 4, GFX_BOTTOM = 8 };

typedef struct gfx gfx;

/* Load the fonts (font_path NULL = DejaVuSans).  Returns 0, or -1 with err
 * naming the file and the Debian package that provides it. */
int  gfx_open(gfx **out, SDL_Renderer *r, const char *font_path, char *err, size_t errlen);
void gfx_close(gfx *g);
SDL_Renderer *gfx_renderer(gfx *g);
/* Call once per frame: forgets text not drawn for a while. */
void gfx_frame_end(gfx *g);

/* Draw printf-formatted text; returns its width in pixels. */
int  gfx_text(gfx *g, enum gfx_font f, SDL_Color c, int x, int y, int anchor, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
int  gfx_text_width(gfx *g, enum gfx_font f, const char *s);
int  gfx_font_height(gfx *g, enum gfx_font f);

void gfx_rect(gfx *g, SDL_Rect r, SDL_Color c);
void gfx_round_rect(gfx *g, SDL_Rect r, int radius, SDL_Color c);
/* An outline of the given thickness, inside r. */
void gfx_round_frame(gfx *g, SDL_Rect r, int radius, int thick, SDL_Color c);
void gfx_circle(gfx *g, float cx, float cy, float radius, SDL_Color c);
void gfx_ring(gfx *g, float cx, float cy, float radius, float thick, SDL_Color c);
void gfx_line(gfx *g, float x1, float y1, float x2, float y2, float thick, SDL_Color c);
void gfx_arrow(gfx *g, float x1, float y1, float x2, float y2, float thick, SDL_Color c);
/* A quadratic Bezier from (x1,y1) via control (cx,cy) to (x2,y2), with an
 * arrow head at the end. */
void gfx_curve_arrow(gfx *g, float x1, float y1, float cx, float cy, float x2, float y2,
                     float thick, SDL_Color c);

static inline SDL_Color gfx_rgb(Uint8 r, Uint8 g, Uint8 b) { return (SDL_Color){ r, g, b, 255 }; }
static inline SDL_Color gfx_alpha(SDL_Color c, float a)
{
    c.a = (Uint8)(a <= 0 ? 0 : a >= 1 ? c.a : c.a * a);
    return c;
}
static inline SDL_Color gfx_mix(SDL_Color a, SDL_Color b, float t)
{
    return (SDL_Color){ (Uint8)(a.r + (b.r - a.r) * t), (Uint8)(a.g + (b.g - a.g) * t),
                        (Uint8)(a.b + (b.b - a.b) * t), (Uint8)(a.a + (b.a - a.a) * t) };
}

#endif
