/*
 * shared.c — the region shared by the workers of one service (see shared.h).
 *
 * The connection counts sit behind one process-shared mutex: a check and its increment
 * must be one step for the limit to be exact when two workers accept at once, and the
 * step is a few memory accesses.  The mutex is robust: a worker killed while holding it
 * (SIGKILL by an operator or by the parent) leaves it to the next process that locks it,
 * and the parent then takes what the dead worker counted out of the totals
 * (shared_forget_worker).  Each address keeps a count per worker for that reason.
 *
 * The addresses are an open-addressing table with linear probing, an entry with a total
 * of 0 being free; removal shifts the entries behind it back (no tombstones), so a
 * long-running service never fills the table with addresses long gone.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "config.h"
#include "log.h"
#include "shared.h"

/* A power of two, with room to spare over SHARED_ADDRESSES: probes stay short. */
#define ADDRESS_SLOTS 131072

typedef struct AddressCount
{
	struct in6_addr addr;
	int			total;			/* 0: a free entry */
	int			per_worker[MAX_WORKERS];
} AddressCount;

typedef struct Region
{
	pthread_mutex_t lock;		/* over everything below the slots */
	int			nworkers;
	WorkerSlot	slots[MAX_WORKERS];
	WorkerSlot	retired;
	int			connections;
	int			naddresses;
	AddressCount addresses[ADDRESS_SLOTS];
} Region;

static Region *region;
static int	self;

bool
shared_create(int nworkers)
{
	pthread_mutexattr_t attr;

	region = mmap(NULL, sizeof(Region), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
	{
		region = NULL;
		log_error("could not map the workers' shared region (%zu bytes): %s", sizeof(Region),
				  strerror(errno));
		return false;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&region->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	region->nworkers = nworkers;
	return true;
}

void
shared_set_worker(int k)
{
	self = k;
}

int
shared_worker(void)
{
	return self;
}

int
shared_nworkers(void)
{
	return region ? region->nworkers : 1;
}

WorkerSlot *
shared_slot(int k)
{
	return &region->slots[k];
}

static void
lock(void)
{
	/* Its holder died: the counts it was changing are the parent's to correct. */
	if (pthread_mutex_lock(&region->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&region->lock);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&region->lock);
}

static unsigned
address_hash(const struct in6_addr *a)
{
	uint32_t	h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ a->s6_addr[i]) * 16777619u;
	return h & (ADDRESS_SLOTS - 1);
}

/* address_find: addr's entry, or the free entry where it would go. */
static AddressCount *
address_find(const struct in6_addr *addr)
{
	unsigned	i = address_hash(addr);

	while (region->addresses[i].total > 0 &&
		   memcmp(&region->addresses[i].addr, addr, sizeof(*addr)) != 0)
		i = (i + 1) & (ADDRESS_SLOTS - 1);
	return &region->addresses[i];
}

/* address_remove frees entry e (its total is 0) and shifts the probe chain behind it back. */
static void
address_remove(AddressCount *e)
{
	unsigned	hole = (unsigned) (e - region->addresses);
	unsigned	i = hole;

	region->naddresses--;
	for (;;)
	{
		unsigned	home;

		i = (i + 1) & (ADDRESS_SLOTS - 1);
		if (region->addresses[i].total == 0)
			break;
		home = address_hash(&region->addresses[i].addr);
		/* Entry i may fill the hole unless its home lies cyclically in (hole, i]. */
		if (((i - home) & (ADDRESS_SLOTS - 1)) >= ((i - hole) & (ADDRESS_SLOTS - 1)))
		{
			region->addresses[hole] = region->addresses[i];
			hole = i;
		}
	}
	memset(&region->addresses[hole], 0, sizeof(AddressCount));
}

/* address_add counts one connection of worker k from addr; false when the table is full. */
static bool
address_add(const struct in6_addr *addr, int k)
{
	AddressCount *e = address_find(addr);

	if (e->total == 0)
	{
		if (region->naddresses >= SHARED_ADDRESSES)
			return false;
		region->naddresses++;
		e->addr = *addr;
	}
	e->total++;
	e->per_worker[k]++;
	return true;
}

static void
address_drop(const struct in6_addr *addr, int k)
{
	AddressCount *e = address_find(addr);

	if (e->total == 0 || e->per_worker[k] == 0)
		return;
	e->per_worker[k]--;
	if (--e->total == 0)
		address_remove(e);
}

SharedRefusal
shared_conn_open(const struct in6_addr *addr, int max_total, int max_per_address)
{
	SharedRefusal r = SHARED_OK;

	lock();
	if (region->connections >= max_total)
		r = SHARED_OVER_TOTAL;
	else if (max_per_address > 0 && address_find(addr)->total >= max_per_address)
		r = SHARED_OVER_ADDRESS;
	else if (!address_add(addr, self))
		r = SHARED_TABLE_FULL;
	else
	{
		region->connections++;
		atomic_fetch_add(&region->slots[self].connections, 1);
	}
	unlock();
	return r;
}

void
shared_conn_close(const struct in6_addr *addr)
{
	lock();
	address_drop(addr, self);
	if (atomic_load(&region->slots[self].connections) > 0)
	{
		atomic_fetch_sub(&region->slots[self].connections, 1);
		region->connections--;
	}
	unlock();
}

SharedRefusal
shared_addr_move(const struct in6_addr *from, const struct in6_addr *to, int max_per_address)
{
	SharedRefusal r = SHARED_OK;

	lock();
	if (max_per_address > 0 && address_find(to)->total >= max_per_address)
		r = SHARED_OVER_ADDRESS;
	else if (!address_add(to, self))
		r = SHARED_TABLE_FULL;
	else
		address_drop(from, self);
	unlock();
	return r;
}

int
shared_connections(void)
{
	int			n;

	lock();
	n = region->connections;
	unlock();
	return n;
}

int
shared_worker_connections(int k)
{
	return (int) atomic_load(&region->slots[k].connections);
}

int
shared_address_connections(const struct in6_addr *addr)
{
	int			n;

	lock();
	n = address_find(addr)->total;
	unlock();
	return n;
}

WorkerSlot *
shared_retired(void)
{
	return &region->retired;
}

void
shared_forget_worker(int k)
{
	for (int i = 0; i < SHARED_COUNTERS; i++)
		atomic_fetch_add(&region->retired.counters[i],
						 atomic_exchange(&region->slots[k].counters[i], 0));
	/* Its /metrics values join the retired ones (only the counters' sums are read). */
	for (int i = 0; i < SHARED_VALUES; i++)
	{
		uint64_t	a = atomic_load(&region->retired.values[i]);
		uint64_t	b = atomic_exchange(&region->slots[k].values[i], 0);
		double		da;
		double		db;

		memcpy(&da, &a, sizeof(da));
		memcpy(&db, &b, sizeof(db));
		da += db;
		memcpy(&a, &da, sizeof(a));
		atomic_store(&region->retired.values[i], a);
	}
	lock();
	for (unsigned i = 0; i < ADDRESS_SLOTS; i++)
	{
		AddressCount *e = &region->addresses[i];

		if (e->total == 0 || e->per_worker[k] == 0)
			continue;
		e->total -= e->per_worker[k];
		e->per_worker[k] = 0;
		if (e->total == 0)
		{
			address_remove(e);
			i--;				/* an entry from behind may have moved here */
		}
	}
	region->connections -= (int) atomic_exchange(&region->slots[k].connections, 0);
	unlock();
}
