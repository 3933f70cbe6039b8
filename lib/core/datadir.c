#include "datadir.h"
#include "common.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *data_dir(void)
{
    static char dir[PATH_MAX + 32];
    const char *env = getenv("PIPECLF_DATA");
    if (env && *env) return env;
    if (dir[0]) return dir;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    /* PREFIX/bin/prog -> PREFIX */
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return NULL;
        *slash = '\0';
    }
    snprintf(dir, sizeof dir, "%s/share/pipeclf/data", exe);
    return dir;
}
