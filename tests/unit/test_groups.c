/*
 * test_groups.c — unit tests of client groups (pushd/groups.c) linked without the client
 * layer: evaluation per context, sharing of a group, what each group is told of a
 * transaction and of time, and what a token scope hides, with the groups' messages taken
 * from their sink.  Under ASan/UBSan.  The cache, encoder, evaluator and scopes are the
 * daemon's own; the test defines only the process globals main.c and metrics.c define.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "groups.h"
#include "metrics.h"
#include "pushd.h"
#include "tg_hooks.h"
#include "toggle.h"

/* The process globals of main.c and metrics.c; the clock is the test's. */
Pushd		pushd;
Metrics		metrics;
static int64_t clock_us = 1767268800000000LL;	/* 2026-01-01T12:00:00Z */

int64_t
wall_clock_us(void)
{
	return clock_us;
}

int64_t
now_us(void)
{
	return clock_us;
}


/* What the sink received: one entry per group message. */
#define MAX_SENT 32
static struct
{
	Group	   *group;
	char	   *text;
	bool		schedule;
} sent[MAX_SENT];
static int	nsent;

static void
sink(Group *group, Msg *msg)
{
	assert_true(nsent < MAX_SENT);
	sent[nsent].group = group;
	sent[nsent].text = strndup((const char *) msg->data, msg->len);
	sent[nsent].schedule = msg->schedule;
	nsent++;
}

static void
sent_clear(void)
{
	int			i;

	for (i = 0; i < nsent; i++)
		free(sent[i].text);
	nsent = 0;
}

/* sent_to: the text group was sent (the last one), or NULL. */
static const char *
sent_to(const Group *group)
{
	int			i;

	for (i = nsent - 1; i >= 0; i--)
		if (sent[i].group == group)
			return sent[i].text;
	return NULL;
}

/* A toggle's state as a row would give it: every field from its column's text. */
static ToggleDelta
delta(const char *name, const char *active, const char *version, const char *description,
	  const char *rules)
{
	ToggleDelta d = {0};

	toggle_set_field(&d.state, toggle_field_by_member("name"), name);
	toggle_set_field(&d.state, &toggle_fields[1], active);	/* is_active */
	toggle_set_field(&d.state, toggle_field_by_member("version"), version);
	toggle_set_field(&d.state, toggle_field_by_member("description"), description);
	toggle_set_field(&d.state, toggle_field_by_member("updated_at"), "2026-01-01T00:00:00+00:00");
	if (rules)
		d.state.rules = strdup(rules);
	return d;
}

/* commit: one transaction, as stream_commit runs it (groups, cache, groups, cache). */
static void
commit(int64_t version, ToggleDelta *deltas, int ndeltas)
{
	GroupsCommit *c = groups_commit_begin(deltas, ndeltas);
	int			i;

	cache_apply(&pushd.cache, version, deltas, ndeltas);
	groups_commit_end(c, version, wall_clock_us());
	cache_drop_retired(&pushd.cache);
	for (i = 0; i < ndeltas; i++)
		toggle_free(&deltas[i].state);
}

#define PRO_RULE "[{\"when\": [{\"attribute\": \"plan\", \"op\": \"equals\", \"value\": \"pro\"}], \"serve\": true}]"

static int
setup(void **state)
{
	ToggleDelta d[2];

	(void) state;
	memset(&pushd, 0, sizeof(pushd));
	pushd.cfg.resume_window = 16;
	cache_init(&pushd.cache, 16, &hooks);
	cache_reset(&pushd.cache, "E", 2);
	d[0] = delta("plain", "t", "1", "a plain one", NULL);
	d[1] = delta("pro.only", "t", "2", "", PRO_RULE);
	cache_put(&pushd.cache, &d[0].state);
	cache_put(&pushd.cache, &d[1].state);
	toggle_free(&d[0].state);
	toggle_free(&d[1].state);
	groups_reload(wall_clock_us());
	groups_on_change(sink);
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	sent_clear();
	cache_free(&pushd.cache);
	return 0;
}

static Group *
acquire(const char *context, const char *scope_json)
{
	char		err[256];
	Scope	   *scope = scope_json ? scope_from_json(scope_json) : NULL;
	Group	   *g = group_acquire(context, strlen(context), scope, err, sizeof(err));

	scope_free(scope);
	assert_non_null(g);
	return g;
}

/* One group per scope and canonical context; equal ones share it. */
static void
test_sharing(void **state)
{
	Group	   *a = acquire("{\"plan\": \"pro\", \"id\": 1}", NULL);
	Group	   *b = acquire("{\"id\":1,\"plan\":\"pro\"}", NULL);
	Group	   *c = acquire("{\"id\":1,\"plan\":\"pro\"}", "[\"plain\"]");
	Group	   *d = acquire("", NULL);
	char		err[256];

	(void) state;
	assert_ptr_equal(a, b);
	assert_int_equal(a->refs, 2);
	assert_ptr_not_equal(a, c);
	assert_string_equal(d->context, "{}");
	assert_int_equal(groups_count(), 3);
	assert_null(group_acquire("[1]", 3, NULL, err, sizeof(err)));
	assert_null(group_acquire("{", 1, NULL, err, sizeof(err)));
	assert_string_equal(err, "expected a member name at byte 1");
	group_release(a);
	group_release(b);
	group_release(c);
	group_release(d);
	assert_int_equal(groups_count(), 0);
}

/* Each group's snapshot is evaluated for its context, and shows only what its scope allows. */
static void
test_evaluation_and_scope_in_snapshots(void **state)
{
	Group	   *pro = acquire("{\"plan\":\"pro\"}", NULL);
	Group	   *free_plan = acquire("{\"plan\":\"free\"}", NULL);
	Group	   *scoped = acquire("{\"plan\":\"pro\"}", "[\"plain\"]");
	uint64_t	hash_pro;
	uint64_t	hash_free;
	Msg		   *m;

	(void) state;
	m = group_snapshot(pro, &hash_pro);
	assert_non_null(strstr((char *) m->data, "{\"name\":\"pro.only\",\"active\":true,"));
	assert_non_null(strstr((char *) m->data, "\"reason\":\"TARGETING_MATCH\""));
	msg_unref(m);
	m = group_snapshot(free_plan, &hash_free);
	assert_non_null(strstr((char *) m->data, "{\"name\":\"pro.only\",\"active\":false,"));
	msg_unref(m);
	assert_true(hash_pro != hash_free);
	m = group_snapshot(scoped, NULL);
	assert_null(strstr((char *) m->data, "pro.only"));
	assert_non_null(strstr((char *) m->data, "\"plain\""));
	msg_unref(m);
	assert_false(group_visible(scoped, "pro.only"));
	assert_true(group_visible(pro, "pro.only"));
	group_release(pro);
	group_release(free_plan);
	group_release(scoped);
}

/*
 * What a transaction shows each group: a result that changed for it, a toggle that is
 * new, a field that is news (for every TF_SENT_NEWS field of the table: one left out of
 * the rule would never be broadcast), a removal; never a write that changes only stamps,
 * nor anything outside the group's scope.
 */
static void
test_what_a_commit_shows(void **state)
{
	Group	   *pro = acquire("{\"plan\":\"pro\"}", NULL);
	Group	   *free_plan = acquire("{\"plan\":\"free\"}", NULL);
	Group	   *scoped = acquire("{\"plan\":\"pro\"}", "[\"plain\"]");
	ToggleDelta d[1];
	int64_t		version = 3;
	char		v[32];
	int			i;

	(void) state;
	/* Only the stamps move (version, updated_at): nobody hears of it. */
	d[0] = delta("plain", "t", "3", "a plain one", NULL);
	commit(version++, d, 1);
	assert_int_equal(nsent, 0);

	/*
	 * A new rule changes the result for pro only (free had no match before and has none
	 * now): only pro hears; scoped, of pro's context, cannot see the toggle.
	 */
	d[0] = delta("pro.only", "t", "4", "",
				 "[{\"when\": [{\"attribute\": \"plan\", \"op\": \"equals\", \"value\": \"max\"}], "
				 "\"serve\": true}]");
	commit(version++, d, 1);
	assert_int_equal(nsent, 1);
	assert_non_null(strstr(sent_to(pro), "\"name\":\"pro.only\",\"active\":false"));
	assert_non_null(strstr(sent_to(pro), "\"type\":\"change\",\"version\":4,"));
	assert_null(sent_to(free_plan));
	sent_clear();

	/* Every field that is news reaches every group that may see the toggle. */
	for (i = 0; i < toggle_nfields; i++)
	{
		const ToggleField *f = &toggle_fields[i];

		if (f->shown != TF_SENT_NEWS)
			continue;
		snprintf(v, sizeof(v), "%lld", (long long) version);
		d[0] = delta("plain", "t", v, "a plain one", NULL);
		toggle_set_field(&d[0].state, f, "changed alone");
		commit(version++, d, 1);
		assert_int_equal(nsent, 3);
		assert_non_null(sent_to(pro));
		assert_non_null(sent_to(free_plan));
		assert_non_null(strstr(sent_to(scoped), "changed alone"));
		sent_clear();
	}

	/* A new toggle is news to those who may see it; its removal too. */
	snprintf(v, sizeof(v), "%lld", (long long) version);
	d[0] = delta("pro.second", "t", v, "", NULL);
	commit(version++, d, 1);
	assert_int_equal(nsent, 2);
	assert_null(sent_to(scoped));
	sent_clear();
	d[0] = delta("pro.second", NULL, NULL, NULL, NULL);
	d[0].removed = true;
	commit(version++, d, 1);
	assert_int_equal(nsent, 2);
	assert_non_null(strstr(sent_to(pro), "\"removed\":[\"pro.second\"]"));
	assert_null(sent_to(scoped));
	sent_clear();

	/* Resume: everything written after version 3, as this group sees it. */
	{
		Msg		   *m = group_since(scoped, 3);

		assert_non_null(m);
		assert_non_null(strstr((char *) m->data, "\"name\":\"plain\""));
		assert_null(strstr((char *) m->data, "pro."));
		msg_unref(m);
		assert_null(group_since(scoped, 1));	/* before the window's floor: a snapshot */
	}
	group_release(pro);
	group_release(free_plan);
	group_release(scoped);
}

/* Time: a window that opens is sent, with cause schedule, to the groups whose result moved. */
static void
test_time_changes(void **state)
{
	Group	   *g = acquire("{}", NULL);
	ToggleDelta d[1];
	Toggle	   *moved[1];

	(void) state;
	d[0] = delta("timed", "t", "3",
				 "", "[{\"when\": [{\"window\": {\"from\": \"2026-01-01T12:00:10Z\"}}], \"serve\": true}]");
	commit(3, d, 1);
	assert_int_equal(nsent, 1);		/* new */
	assert_non_null(strstr(sent_to(g), "\"name\":\"timed\",\"active\":false"));
	sent_clear();
	moved[0] = cache_get_mutable(&pushd.cache, "timed");
	assert_true(moved[0]->timed);
	groups_time_changed(moved, 1, clock_us);
	assert_int_equal(nsent, 0);		/* nothing moved yet */
	clock_us += 10 * 1000000LL;
	groups_time_changed(moved, 1, clock_us);
	assert_int_equal(nsent, 1);
	assert_true(sent[0].schedule);
	assert_non_null(strstr(sent_to(g), "\"cause\":\"schedule\""));
	assert_non_null(strstr(sent_to(g), "\"name\":\"timed\",\"active\":true"));
	group_release(g);
}

/* Members are the owner's links: the group is released with its last member. */
static void
test_members(void **state)
{
	Group	   *g = acquire("{\"m\":1}", NULL);
	lws_dll2_t	a = {0};
	lws_dll2_t	b = {0};

	(void) state;
	group_join(g, &a);
	group_join(acquire("{\"m\":1}", NULL), &b);
	assert_int_equal(g->members.count, 2);
	assert_int_equal(g->refs, 2);
	group_leave(g, &a);
	assert_int_equal(g->members.count, 1);
	assert_int_equal(groups_count(), 1);
	group_leave(g, &b);
	assert_int_equal(groups_count(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sharing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evaluation_and_scope_in_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_a_commit_shows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members, setup, teardown),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
