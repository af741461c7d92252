/*
 * toggles_listen.c — test tool: LISTENs on a channel and prints every notification
 * payload on its own line, flushed, until it receives the payload "__stop__".
 *
 *   toggles_listen CONNINFO [CHANNEL]
 *
 * It writes "listening" to stderr once LISTEN has taken effect, so a test can wait for
 * it before it starts writing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include <libpq-fe.h>

static void
die(PGconn *conn, const char *what)
{
	fprintf(stderr, "toggles_listen: %s: %s", what, PQerrorMessage(conn));
	PQfinish(conn);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *channel = argc > 2 ? argv[2] : "toggles";
	PGconn	   *conn;
	PGresult   *res;
	char	   *ident;
	char	   *sql;

	if (argc < 2)
	{
		fprintf(stderr, "usage: toggles_listen CONNINFO [CHANNEL]\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
		die(conn, "connect");

	ident = PQescapeIdentifier(conn, channel, strlen(channel));
	sql = malloc(strlen(ident) + 8);
	sprintf(sql, "LISTEN %s", ident);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(conn, "LISTEN");
	PQclear(res);
	PQfreemem(ident);
	free(sql);
	fprintf(stderr, "listening\n");

	for (;;)
	{
		int			sock = PQsocket(conn);
		fd_set		readable;
		PGnotify   *note;

		FD_ZERO(&readable);
		FD_SET(sock, &readable);
		if (select(sock + 1, &readable, NULL, NULL, NULL) < 0)
		{
			if (errno == EINTR)
				continue;
			perror("toggles_listen: select");
			return 2;
		}
		if (!PQconsumeInput(conn))
			die(conn, "read");
		while ((note = PQnotifies(conn)) != NULL)
		{
			int			stop = strcmp(note->extra, "__stop__") == 0;

			if (!stop)
				printf("%s\n", note->extra);
			PQfreemem(note);
			if (stop)
			{
				fflush(stdout);
				PQfinish(conn);
				return 0;
			}
		}
		fflush(stdout);
	}
}
