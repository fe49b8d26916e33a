#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "json.h"
#include "mem.h"

int tdrv_console_term(int in_fd)
{
    for (const int *f = (const int[]){in_fd, 1, 2, 0, -2}; *f != -2; f++)
        if (*f >= 0 && isatty(*f))
            return *f;
    return -1;
}

void tdrv_console_size_spec(cJSON *spec)
{
    struct winsize ws = {0};
    int fd = tdrv_console_term(-1);
    int ok;
    cJSON *cs;

    if (fd >= 0) {
        ok = ioctl(fd, TIOCGWINSZ, &ws) == 0;
    } else {
        cleanup_close int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);

        ok = tty >= 0 && ioctl(tty, TIOCGWINSZ, &ws) == 0;
    }
    if (!ok || !ws.ws_row || !ws.ws_col)
        return;
    cs = tdrv_json_xobj();
    tdrv_json_add_num(cs, "height", ws.ws_row);
    tdrv_json_add_num(cs, "width", ws.ws_col);
    tdrv_json_set(cJSON_GetObjectItemCaseSensitive(spec, "process"), "consoleSize", cs);
}

void tdrv_console_init(struct tdrv_console *c)
{
    memset(c, 0, sizeof(*c));
    c->listen_fd = c->dir_fd = c->master = c->in_fd = c->term_fd = -1;
    c->last_nl = 1;
}

void tdrv_console_restore(struct tdrv_console *c)
{
    if (c->raw)
        tcsetattr(c->term_fd, TCSANOW, &c->saved);
    c->raw = 0;
}

void tdrv_console_release(struct tdrv_console *c)
{
    tdrv_console_restore(c);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->dir_fd >= 0) {
        unlinkat(c->dir_fd, "console.sock", 0);
        close(c->dir_fd);
    }
    if (c->master >= 0)
        close(c->master);
    c->listen_fd = c->dir_fd = c->master = -1;
}

int tdrv_console_listen(struct tdrv_console *c, const char *bundle, struct tdrv_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cleanup_free char *full = tdrv_xasprintf("%s/console.sock", bundle);

    c->dir_fd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", bundle);
    unlinkat(c->dir_fd, "console.sock", 0);
    /* bound through our fd of the bundle: the bundle's own path may not fit in sun_path */
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/console.sock", c->dir_fd);
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(c->listen_fd, 1) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to listen on '%s'", full);
    if (strlen(full) < sizeof(sa.sun_path))
        snprintf(c->path, sizeof(c->path), "%s", full);
    else
        snprintf(c->path, sizeof(c->path), "/proc/%d/fd/%d/console.sock", (int)getpid(), c->dir_fd);
    return 0;
}

/* After the runtime started the task: the master its init sent (the connection is queued). */
int tdrv_console_recv(struct tdrv_console *c, struct tdrv_err *err)
{
    struct pollfd p = {.fd = c->listen_fd, .events = POLLIN};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    char name[256];
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm;
    cleanup_close int conn = -1;
    int r = poll(&p, 1, 10000);
    ssize_t n;

    if (r <= 0 || (conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "runtime_failed", r < 0 || r > 0 ? errno : 0,
                             "the OCI runtime did not connect to the console socket '%s'", c->path);
    while ((n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int)))
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "runtime_failed", 0,
                             "the OCI runtime sent no terminal over the console socket");
    memcpy(&c->master, CMSG_DATA(cm), sizeof(int));
    fcntl(c->master, F_SETFL, fcntl(c->master, F_GETFL) | O_NONBLOCK);
    unlinkat(c->dir_fd, "console.sock", 0);
    close(c->listen_fd);
    close(c->dir_fd);
    c->listen_fd = c->dir_fd = -1;
    return 0;
}

void tdrv_console_winsize(struct tdrv_console *c)
{
    struct winsize ws;

    if (c->term_fd >= 0 && c->master >= 0 && ioctl(c->term_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row &&
        ws.ws_col)
        ioctl(c->master, TIOCSWINSZ, &ws);
}

/* Raw mode on our terminal while it types into the task's (keys, ^C, ^D go to the task). */
void tdrv_console_raw(struct tdrv_console *c)
{
    struct termios t;

    if (c->in_fd < 0 || c->in_fd != c->term_fd || tcgetattr(c->term_fd, &c->saved) < 0)
        return;
    t = c->saved;
    cfmakeraw(&t);
    if (tcsetattr(c->term_fd, TCSANOW, &t) == 0)
        c->raw = 1;
}

/* Input to the master: what is pending first; at the end of a non-terminal input, the pty's
 * end-of-file character (twice after a partial line), so a reading task sees its end. */
void tdrv_console_input(struct tdrv_console *c, int readable, int writable)
{
    if (c->npend == 0 && readable) {
        ssize_t n = read(c->in_fd, c->pend, sizeof(c->pend));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (n <= 0) {
            struct termios t;

            c->in_fd = -1; /* its owner closes it */
            if (tcgetattr(c->master, &t) == 0 && (t.c_lflag & ICANON)) {
                c->pend[c->npend++] = (char)t.c_cc[VEOF];
                if (!c->last_nl)
                    c->pend[c->npend++] = (char)t.c_cc[VEOF];
            }
        } else {
            c->npend = (size_t)n;
            c->last_nl = c->pend[n - 1] == '\n';
        }
        c->off = 0;
        writable = 1;
    }
    if (c->npend && writable) {
        ssize_t n = write(c->master, c->pend + c->off, c->npend - c->off);

        if (n > 0)
            c->off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            c->off = c->npend; /* the task's side is gone: drop it */
        if (c->off >= c->npend)
            c->npend = c->off = 0;
    }
}

int tdrv_console_stdin(int given)
{
    int tty;

    if (given || isatty(0))
        return 0;
    tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty >= 0 && tcgetpgrp(tty) == getpgrp())
        return tty;
    if (tty >= 0)
        close(tty);
    return 0;
}
