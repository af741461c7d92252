/*
 * take_context.h — see take_context.c.
 */
#ifndef TESTS_FUZZ_TAKE_CONTEXT_H
#define TESTS_FUZZ_TAKE_CONTEXT_H

#include <stddef.h>

/* fuzz_take_context: canonical form, checked stable, then parsed; aborts on a broken promise. */
extern void fuzz_take_context(const char *text, size_t len);

#endif
