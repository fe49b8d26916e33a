#ifndef TDRV_CONSOLE_H
#define TDRV_CONSOLE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <termios.h>

#include "err.h"

/*
 * A terminal for a task (config.tty), through the OCI runtime's console socket: we listen
 * on <bundle>/console.sock, the runtime connects, and the container's init sends the
 * pseudo-terminal's master over it (SCM_RIGHTS) before the task runs. The supervisor then
 * relays the master's output to the logs (and our stdout in the foreground), the task's
 * input (interactive) to the master, and our terminal's size to it. Nothing here runs for
 * a task with neither `tty` nor `interactive`.
 */
struct tdrv_console {
    int listen_fd;
    int dir_fd;     /* the bundle, for a socket path too long for sun_path */
    char path[128]; /* what the runtime is given */
    int master;
    int in_fd;   /* relayed to the master (interactive), or -1 */
    int term_fd; /* our own terminal: window size, raw mode when it is in_fd; or -1 */
    int raw;     /* term_fd is in raw mode, `saved` restores it */
    struct termios saved;
    char pend[4096]; /* read from in_fd, not yet written to the master */
    size_t npend;
    size_t off;
    int last_nl; /* the last input byte was a newline (for the end of file) */
};

void tdrv_console_init(struct tdrv_console *c);
/* Restore our terminal, close what is open, remove the socket. */
void tdrv_console_release(struct tdrv_console *c);

/* The caller's terminal for the window size: in_fd when it is one, else stdout, stderr,
 * stdin; -1 when none is a terminal. */
int tdrv_console_term(int in_fd);

/* process.consoleSize from the caller's terminal (or its controlling terminal), so the task
 * starts with the right size; nothing when there is no terminal. */
void tdrv_console_size_spec(cJSON *spec);

/* Listen on <bundle>/console.sock; c->path is what the runtime is given. */
int tdrv_console_listen(struct tdrv_console *c, const char *bundle, struct tdrv_err *err);
/* After the runtime started the task: receive the master (69, runtime_failed, if none). */
int tdrv_console_recv(struct tdrv_console *c, struct tdrv_err *err);

/* Our terminal's window size onto the task's (at start and on SIGWINCH). */
void tdrv_console_winsize(struct tdrv_console *c);
/* Raw mode on our terminal while it is the task's input; tdrv_console_restore undoes it. */
void tdrv_console_raw(struct tdrv_console *c);
void tdrv_console_restore(struct tdrv_console *c);

/* Move the task's input: read in_fd when `readable` and nothing is pending, write what is
 * pending to the master (non-blocking). */
void tdrv_console_input(struct tdrv_console *c, int readable, int writable);

/*
 * An interactive task's input in the foreground (docs/tdrv-run.md, "Terminal and standard input"):
 * fd 0 when --stdin gave it (`given`) or when it is a terminal; else the controlling terminal when
 * we are its foreground job (`tdrv-run < task.json` at a shell prompt); else fd 0 as the
 * document left it, at its end. Returns the fd: 0, or one the caller closes.
 */
int tdrv_console_stdin(int given);

#endif
