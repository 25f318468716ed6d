/* The value of NAME in a query string "a=1&b&c=3" ("" for a bare name), or NULL. Shared by the
 * CGI and FastCGI test helpers. The result lives in a static buffer until the next call. */
#ifndef LIDO_TEST_QUERY_ARG_H
#define LIDO_TEST_QUERY_ARG_H
#include <string.h>

static const char* arg(const char* query, const char* name)
{
    static char value[1024];
    size_t n = strlen(name);
    const char* p = query;
    while (p && *p) {
        if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || p[n] == '\0')) {
            const char* v = p[n] == '=' ? p + n + 1 : p + n;
            size_t len = strcspn(v, "&");
            if (len >= sizeof value)
                len = sizeof value - 1;
            memcpy(value, v, len);
            value[len] = '\0';
            return value;
        }
        p = strchr(p, '&');
        if (p)
            ++p;
    }
    return NULL;
}

#endif
