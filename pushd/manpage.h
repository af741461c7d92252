/*
 * manpage.h — toggles-pushd(8), written by the binary itself (--print-man) from the
 * settings table, so that the manual never disagrees with --help.
 */
#ifndef PUSHD_MANPAGE_H
#define PUSHD_MANPAGE_H

#include <stdio.h>

/* manpage_print writes the manual page, in man(7) roff, to out. */
extern void manpage_print(FILE *out);

#endif
