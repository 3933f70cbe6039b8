#include "numfmt.h"

#include <stdio.h>
#include <stdlib.h>

int fmt_double(char *buf, double v)
{
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, NUMFMT_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return len;
}
