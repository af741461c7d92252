/*
 * fuzz.h — what the fuzz targets share: libFuzzer's entry point, and one input cut into
 * parts at NUL bytes (a byte no JSON text, header value or config line holds where it
 * matters), so that one target can feed several parsers from one input.
 */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct FuzzPart
{
	const char *s;				/* into the input: not NUL-terminated */
	size_t		len;
} FuzzPart;

/*
 * fuzz_split cuts data at NUL bytes into at most max parts (the last one keeps any
 * further NULs) and returns how many there are; parts not present are empty.
 */
static inline int
fuzz_split(const uint8_t *data, size_t size, FuzzPart *parts, int max)
{
	int			n = 0;
	size_t		start = 0;

	for (int i = 0; i < max; i++)
	{
		parts[i].s = "";
		parts[i].len = 0;
	}
	while (n < max)
	{
		const uint8_t *nul = n + 1 < max ? memchr(data + start, 0, size - start) : NULL;
		size_t		end = nul != NULL ? (size_t) (nul - data) : size;

		parts[n].s = (const char *) data + start;
		parts[n].len = end - start;
		n++;
		if (nul == NULL)
			break;
		start = end + 1;
	}
	return n;
}

/* fuzz_cstring: a NUL-terminated copy of a part, for parsers that take C strings. */
static inline char *
fuzz_cstring(FuzzPart part)
{
	char	   *s = malloc(part.len + 1);

	if (s == NULL)
		abort();
	memcpy(s, part.s, part.len);
	s[part.len] = '\0';
	return s;
}

#endif
