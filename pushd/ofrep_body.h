/*
 * ofrep_body.h — the body of an OFREP evaluation request ({"context": {...}}), read into
 * the context text the rule language evaluates (docs/openfeature.md).
 */
#ifndef PUSHD_OFREP_BODY_H
#define PUSHD_OFREP_BODY_H

#include <stddef.h>

#include "encode.h"

/* The largest request body read; a context is at most CONTEXT_MAX of it. */
#define OFREP_BODY_MAX 16384

typedef enum OfrepBodyVerdict
{
	OFREP_BODY_OK,
	OFREP_BODY_PARSE_ERROR,		/* not one JSON object: PARSE_ERROR */
	OFREP_BODY_INVALID_CONTEXT	/* "context" is there but not an object: INVALID_CONTEXT */
} OfrepBodyVerdict;

/*
 * ofrep_body_context appends to out the context of an OFREP request body (len 0 or no
 * "context": {}).  OpenFeature's targetingKey becomes the rule language's key when the
 * context has no key of its own; both stay readable as attributes.  Anything else: a
 * verdict and a message in err.
 */
extern OfrepBodyVerdict ofrep_body_context(const char *body, size_t len, TextBuf *out,
										   char *err, size_t errlen);

#endif
