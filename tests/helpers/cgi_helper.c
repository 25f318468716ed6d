/* A CGI program with misbehaving modes, chosen by the query string (Qt Creator's processtestapp
 * idea): hello, sleep=MS, exit=N (before headers, with stderr), nohdrend, partial, malformed,
 * flood=N (stderr lines), hang, crashbody, env, id, echo, status=N, redirect=PATH, big=N,
 * pidfile=PATH (write the pid first). Several may be combined with '&'. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

#include "query_arg.h"

static void sleepMs(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int main(void)
{
    const char* q = getenv("QUERY_STRING");
    if (!q)
        q = "";
    const char* v;
    setvbuf(stdout, NULL, _IOFBF, 65536);
    if ((v = arg(q, "pidfile"))) {
        FILE* f = fopen(v, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    if ((v = arg(q, "sleep")))
        sleepMs(atol(v));
    if ((v = arg(q, "flood"))) {
        int n = atoi(v);
        for (int i = 0; i < n; ++i)
            fprintf(stderr, "flood line %d\n", i);
        fflush(stderr);
    }
    if ((v = arg(q, "exit"))) {
        fprintf(stderr, "helper: failing on purpose with status %s\n", v);
        return atoi(v);
    }
    if (arg(q, "hang")) {
        for (;;)
            pause();
    }
    if (arg(q, "nohdrend")) {
        printf("Content-Type: text/plain\r\nX-Almost: there\r\n");
        return 0;
    }
    if (arg(q, "partial")) {
        printf("Content-Ty");
        return 0;
    }
    if (arg(q, "malformed")) {
        printf("This is not a header\r\n\r\nbody\n");
        return 0;
    }
    if ((v = arg(q, "status"))) {
        printf("Status: %s Custom Reason\r\nContent-Type: text/plain\r\n\r\nstatus %s\n", v, v);
        return 0;
    }
    if ((v = arg(q, "redirect"))) {
        printf("Location: %s\r\n\r\n", v);
        return 0;
    }
    if (arg(q, "crashbody")) {
        printf("Content-Type: text/plain\r\n\r\nfirst part of the body\n");
        fflush(stdout);
        sleepMs(50);
        abort();
    }
    printf("Content-Type: text/plain\r\n\r\n");
    if (arg(q, "env")) {
        for (char** e = environ; *e; ++e)
            printf("%s\n", *e);
        return 0;
    }
    if (arg(q, "id")) {
        printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
        return 0;
    }
    if (arg(q, "echo")) {
        const char* cl = getenv("CONTENT_LENGTH");
        long want = cl ? atol(cl) : 0, got = 0;
        static char buf[65536];
        size_t n;
        while (got < want && (n = fread(buf, 1, sizeof buf, stdin)) > 0) {
            fwrite(buf, 1, n, stdout);
            got += (long)n;
        }
        printf("\n[%ld bytes]\n", got);
        return 0;
    }
    if ((v = arg(q, "big"))) {
        long n = atol(v);
        for (long i = 0; i < n; ++i)
            putchar('a' + (int)(i % 26));
        return 0;
    }
    printf("hello from the CGI helper\n");
    return 0;
}
