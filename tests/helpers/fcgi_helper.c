/* A libfcgi FastCGI responder with misbehaving modes, chosen per request by the query string or
 * at start by environment variables:
 *   query: hello (default), sleep=MS, spin=MS (MS of CPU time), stderr=TEXT, crash (abort), hang, env, relaxed (LF-only,
 *          "Name:value", bare Status code), count (requests served by this process), big=N
 *   env:   HELPER_EXIT_AT_START=N (write to stderr, exit N before accepting),
 *          HELPER_SLEEP_AT_START=MS, HELPER_FREEZE_AT_START=1 (SIGSTOP itself before accepting),
 *          HELPER_FREEZE_AFTER_FIRST=1 (SIGSTOP itself once one request is done),
 *          HELPER_IGNORE_TERM=1 (ignore SIGTERM), HELPER_PIDFILE=PATH,
 *          HELPER_EXIT_AFTER=N (exit with status 0 once N requests are answered, as php-cgi does
 *          after PHP_FCGI_MAX_REQUESTS)
 *   query: id (uid and gid of the process) */
#define _GNU_SOURCE
#include <fcgi_stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

#include "query_arg.h"

int main(void)
{
    const char* e = getenv("HELPER_EXIT_AT_START");
    if (e) {
        /* fd 2 directly: fcgi_stdio's stderr is the FastCGI stream. */
        dprintf(2, "fcgi-helper: cannot start: configured to fail with status %s\n", e);
        return atoi(e);
    }
    if (getenv("HELPER_IGNORE_TERM")) {
        /* Blocked rather than ignored: libfcgi installs its own SIGTERM handler. */
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, NULL);
    }
    const char* pidfile = getenv("HELPER_PIDFILE");
    if (pidfile) {
        FILE* f = fopen(pidfile, "a");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    /* libfcgi replaces environ with each request's parameters: keep the process's own. */
    char pipeName[512] = "";
    if (getenv("_FCGI_X_PIPE_"))
        snprintf(pipeName, sizeof pipeName, "%s", getenv("_FCGI_X_PIPE_"));
    long served = 0;
    int freezeAfterFirst = getenv("HELPER_FREEZE_AFTER_FIRST") != NULL;
    long exitAfter = getenv("HELPER_EXIT_AFTER") ? atol(getenv("HELPER_EXIT_AFTER")) : 0;
    if (getenv("HELPER_FREEZE_AT_START"))
        raise(SIGSTOP); /* alive but deaf: only a ping can tell */
    const char* sleepAtStart = getenv("HELPER_SLEEP_AT_START"); /* ms before the first accept */
    if (sleepAtStart) {
        long ms = atol(sleepAtStart);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    while (FCGI_Accept() >= 0) {
        ++served;
        do { /* one request; "continue" ends it */
        const char* q = getenv("QUERY_STRING");
        if (!q)
            q = "";
        const char* v;
        if ((v = arg(q, "sleep"))) {
            long ms = atol(v);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if ((v = arg(q, "spin"))) {
            struct timespec start, now;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
            long ns = atol(v) * 1000000L;
            do
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
            while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < ns);
        }
        if ((v = arg(q, "stderr")))
            fprintf(stderr, "%s", v);
        if (arg(q, "crash"))
            abort();
        if (arg(q, "hang"))
            for (;;)
                pause();
        if (arg(q, "relaxed")) {
            printf("Status: 201\nContent-Type:text/plain  \n\nrelaxed\n");
            continue;
        }
        printf("Content-Type: text/plain\r\n\r\n");
        if (arg(q, "env")) {
            for (char** p = environ; *p; ++p)
                printf("%s\n", *p);
            printf("process _FCGI_X_PIPE_=%s\n", pipeName);
            continue;
        }
        if (arg(q, "id")) {
            printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
            continue;
        }
        if (arg(q, "count")) {
            printf("pid=%d served=%ld\n", (int)getpid(), served);
            continue;
        }
        if ((v = arg(q, "big"))) {
            long n = atol(v);
            for (long i = 0; i < n; ++i)
                putchar('a' + (int)(i % 26));
            continue;
        }
        printf("hello from the FastCGI helper\n");
        } while (0);
        if (served == 1 && freezeAfterFirst) {
            FCGI_Finish();
            raise(SIGSTOP); /* hangs between requests without exiting: only a ping can tell */
        }
        if (exitAfter > 0 && served >= exitAfter) {
            FCGI_Finish();
            exit(0);
        }
    }
    return 0;
}
