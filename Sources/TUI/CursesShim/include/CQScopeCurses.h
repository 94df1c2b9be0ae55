// The only C the workbench needs: wrappers that make ncursesw usable from Swift 6, for these reasons:
//
// - NCURSES_WIDECHAR must be set before <ncurses.h>: SwiftPM drops pkg-config's -D_XOPEN_SOURCE, and a
//   cSettings define does not reach the Clang importer, so without this line the wide API is missing.
// - Function-like macros (attributes, COLOR_PAIR, mouse masks, getmaxyx) are not imported: wrap them.
// - C globals (stdscr, COLORS, stdin/stdout) are not concurrency-safe in Swift 6: read them here.
// - Every function carries the qc_ prefix.
#ifndef CQSCOPE_CURSES_H
#define CQSCOPE_CURSES_H

#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <ncurses.h>

#define QC_INLINE static inline __attribute__((always_inline))

/// Installs the signal guards, then opens the terminal on stdin/stdout with setlocale(LC_CTYPE, "") first (only LC_CTYPE, so number
/// formatting stays in the C locale). Returns 0 on success, -1 when TERM is unknown or the terminal
/// cannot be opened (newterm returns NULL instead of exiting, unlike initscr).
int qc_open(void);

/// Leaves curses mode (idempotent) and uninstalls the signal guards.
void qc_close(void);

/// Installs handlers for SIGINT, SIGTERM, SIGHUP, SIGQUIT and the crash signals (SIGSEGV, SIGBUS,
/// SIGILL, SIGTRAP, SIGABRT, SIGFPE): each calls endwin() to restore the terminal, restores the
/// previous handler and re-raises, so the process ends exactly as it would have (exit status,
/// core, Swift's backtrace) but with a usable terminal.
void qc_install_signal_guards(void);

/// True when the locale's codeset is UTF-8 (else the ASCII glyph set is used).
int qc_locale_is_utf8(void);

QC_INLINE int qc_colors(void) { return COLORS; }
QC_INLINE int qc_color_pairs(void) { return COLOR_PAIRS; }
QC_INLINE int qc_rows(void) { int r, c; getmaxyx(stdscr, r, c); (void)c; return r; }
QC_INLINE int qc_cols(void) { int r, c; getmaxyx(stdscr, r, c); (void)r; return c; }

QC_INLINE attr_t qc_attr_bold(void) { return A_BOLD; }
QC_INLINE attr_t qc_attr_dim(void) { return A_DIM; }
QC_INLINE attr_t qc_attr_reverse(void) { return A_REVERSE; }
QC_INLINE attr_t qc_attr_underline(void) { return A_UNDERLINE; }

/// Paints one cell of stdscr: a wide character (plus up to 4 combining marks in `text`), attributes
/// and a colour pair.
QC_INLINE void qc_put_cell(int y, int x, const wchar_t *text, attr_t attributes, int pair) {
    cchar_t cell;
    setcchar(&cell, text, attributes, (short)pair, NULL);
    mvwadd_wch(stdscr, y, x, &cell);
}

/// Reads one key with a timeout in milliseconds (-1 blocks). Returns OK for a character in *out,
/// KEY_CODE_YES for a function key in *out, ERR on timeout.
QC_INLINE int qc_read_key(int timeout_ms, unsigned int *out) {
    wtimeout(stdscr, timeout_ms);
    wint_t ch = 0;
    int rc = wget_wch(stdscr, &ch);
    *out = (unsigned int)ch;
    return rc;
}

/// Enables click and wheel reports (no motion events).
QC_INLINE void qc_enable_mouse(void) {
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
}

/// Reads a pending mouse event: kind 1 = press, 4 = wheel up, 5 = wheel down, 0 = other.
QC_INLINE int qc_read_mouse(int *kind, int *x, int *y) {
    MEVENT event;
    if (getmouse(&event) != OK) return -1;
    *x = event.x;
    *y = event.y;
    if (event.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) *kind = 1;
    else if (event.bstate & BUTTON4_PRESSED) *kind = 4;
    else if (event.bstate & BUTTON5_PRESSED) *kind = 5;
    else *kind = 0;
    return 0;
}

QC_INLINE void qc_clear(void) { wclear(stdscr); }
QC_INLINE int qc_key_resize(void) { return KEY_RESIZE; }
QC_INLINE int qc_key_mouse(void) { return KEY_MOUSE; }

#endif
