/*
 * lido-sample-fcgi: a minimal FastCGI responder for the Lido sample site.
 *
 * Every request is answered with a short text/plain page giving the process
 * id, the number of requests this process has served, and the request's
 * SCRIPT_NAME and QUERY_STRING. A query string containing "sleep_ms=N" makes
 * the answer wait N milliseconds (at most 60 seconds), so that the console's
 * charts have some load to show.
 *
 * Build: gcc -Wall -Wextra -O2 -o lido-sample-fcgi lido-sample-fcgi.c -lfcgi
 *
 * Run outside a FastCGI server, it behaves as a CGI program and answers a
 * single request.
 */
#include <fcgi_stdio.h> /* must come first: redefines stdio for FastCGI */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLEEP_MS 60000L

/* Returns the value of the "sleep_ms" parameter of the query string,
 * clamped to [0, MAX_SLEEP_MS], or 0 if it is absent or not a number. */
static long sleep_ms_from_query(const char *query)
{
    static const char key[] = "sleep_ms=";
    const char *p = query;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, sizeof key - 1) == 0) {
            const char *digits = p + sizeof key - 1;
            long ms = 0;
            while (*digits >= '0' && *digits <= '9') {
                ms = ms * 10 + (*digits - '0');
                if (ms > MAX_SLEEP_MS) {
                    return MAX_SLEEP_MS;
                }
                ++digits;
            }
            return ms;
        }
        p = strchr(p, '&');
        if (p != NULL) {
            ++p;
        }
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* resume the remaining time after a signal */
    }
}

static const char *env_or_empty(const char *name)
{
    const char *value = getenv(name);
    return value != NULL ? value : "";
}

int main(void)
{
    unsigned long count = 0;

    while (FCGI_Accept() >= 0) {
        const char *query = env_or_empty("QUERY_STRING");
        long ms = sleep_ms_from_query(query);

        ++count;
        if (ms > 0) {
            sleep_ms(ms);
        }

        printf("Content-Type: text/plain\r\n\r\n");
        printf("Hello from lido-sample-fcgi, pid %ld, request #%lu\n", (long)getpid(), count);
        printf("SCRIPT_NAME: %s\n", env_or_empty("SCRIPT_NAME"));
        printf("QUERY_STRING: %s\n", query);
        if (ms > 0) {
            printf("slept %ld ms\n", ms);
        }
    }
    return 0;
}
