/*
 * compat.h — the PostgreSQL API differences the extension meets, one PG_VERSION_NUM
 * guard each, so that the sources read the same for every supported version.
 *
 * Only PostgreSQL 15 is built and tested here (Debian 12).  Each guard says which
 * versions' sources were read for it: 15 (Debian 12's postgresql-server-dev-15), 17.12
 * (Debian 13's postgresql-server-dev-17 headers) and 18.6 (Debian unstable's
 * postgresql-18 source and postgresql-server-dev-18 headers).  16 was not available
 * from the Debian archive here; where a guard sits at 17, 16 is taken to be like 15
 * because 15's and 17's headers bracket the change.  docs/development.md says how the
 * sources were compiled against 17's and 18's headers.
 */
#ifndef PG_TOGGLES_COMPAT_H
#define PG_TOGGLES_COMPAT_H

#include "postgres.h"

#include "storage/proc.h"
#include "utils/relcache.h"

/*
 * 15 is the oldest version served: GetWALInsertionTimeLine, access/xlogrecovery.h and
 * MarkGUCPrefixReserved first appear there.
 */
#if PG_VERSION_NUM < 150000
#error "pg_toggles needs PostgreSQL 15 or later"
#endif

/*
 * toggles_current_lxid: this backend's local transaction id.  PGPROC.lxid up to 16;
 * from 17 it lives in PGPROC.vxid together with the proc number (read: 15, 17.12, 18.6
 * src/include/storage/proc.h).
 */
#if PG_VERSION_NUM >= 170000
#define toggles_current_lxid() (MyProc->vxid.lxid)
#else
#define toggles_current_lxid() (MyProc->lxid)
#endif

/*
 * toggles_primary_key_index: the OID of rel's primary key index, deferrable or not (as
 * 15 to 17 return it).  18 added the deferrable_ok argument (read: 15, 17.12, 18.6
 * src/include/utils/relcache.h; 18.6 src/backend/utils/cache/relcache.c for what it
 * means).
 */
#if PG_VERSION_NUM >= 180000
#define toggles_primary_key_index(rel) RelationGetPrimaryKeyIndex((rel), true)
#else
#define toggles_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

#endif
