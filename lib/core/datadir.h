/* datadir: where a program finds the data pipeclf ships (the stopword lists
 * of data/): $PIPECLF_DATA when set, else share/pipeclf/data beside the
 * directory that holds the running program — PREFIX/share/pipeclf/data for
 * an installed PREFIX/bin/csvclean, and BUILD/share/pipeclf/data (a link to
 * the source's data/) for BUILD/bin/csvclean or a unit test in BUILD/unit.
 * No path is compiled in, so an installed tree, or a build tree, can move. */
#ifndef PIPECLF_DATADIR_H
#define PIPECLF_DATADIR_H

/* The data directory, without a trailing slash (static storage), or NULL when
 * the program's own location cannot be read (no /proc): the caller says what
 * it looked for and that PIPECLF_DATA sets it. */
const char *data_dir(void);

#endif
