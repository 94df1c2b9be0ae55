#include "CQScopeCurses.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static SCREEN *screen = NULL;
static volatile sig_atomic_t curses_active = 0;

static const int guarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
#define GUARDED_COUNT (sizeof(guarded_signals) / sizeof(guarded_signals[0]))
static struct sigaction previous_actions[GUARDED_COUNT];
static int guards_installed = 0;
static void restore_previous_handlers(void);

int qc_open(void) {
    setlocale(LC_CTYPE, "");
    // Before newterm: ncurses installs its own SIGINT/SIGTERM cleanup only when these are SIG_DFL, and
    // that one exits with status 1 instead of dying of the signal.
    qc_install_signal_guards();
    screen = newterm(NULL, stdout, stdin);
    if (screen == NULL) {
        restore_previous_handlers();
        return -1;
    }
    set_term(screen);
    curses_active = 1;
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
    }
    return 0;
}

static void restore_previous_handlers(void) {
    if (!guards_installed) return;
    for (size_t i = 0; i < GUARDED_COUNT; i++) sigaction(guarded_signals[i], &previous_actions[i], NULL);
    guards_installed = 0;
}

void qc_close(void) {
    restore_previous_handlers();
    if (curses_active) {
        curses_active = 0;
        endwin();
    }
    if (screen != NULL) {
        delscreen(screen);
        screen = NULL;
    }
}

// endwin() is not formally async-signal-safe, but it is what htop and btop do: the alternative (a
// shell left without echo, on the alternate screen) is worse, and the process is about to die anyway.
static void guard_handler(int signal_number) {
    if (curses_active) {
        curses_active = 0;
        endwin();
    }
    for (size_t i = 0; i < GUARDED_COUNT; i++) {
        if (guarded_signals[i] == signal_number) {
            sigaction(signal_number, &previous_actions[i], NULL);
            break;
        }
    }
    // Default action for the previous handler if it was ours or ncurses'; re-raise to end as intended.
    raise(signal_number);
}

void qc_install_signal_guards(void) {
    if (guards_installed) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = guard_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < GUARDED_COUNT; i++) sigaction(guarded_signals[i], &action, &previous_actions[i]);
    guards_installed = 1;
}

int qc_locale_is_utf8(void) {
    const char *codeset = nl_langinfo(CODESET);
    return codeset != NULL && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}
