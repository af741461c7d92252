/*
 * manpage.c — toggles-pushd(8) in man(7) roff, its OPTIONS section rendered from the
 * settings table (config_describe_setting) with the same words, defaults and ranges as
 * --help and --print-config; the prose around it names no setting's value.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "manpage.h"

#ifndef PUSHD_VERSION
#error "PUSHD_VERSION must be defined (the Makefile passes the extension's version)"
#endif

/*
 * roff_text writes text so that roff prints it as it is: backslashes escaped, '-' as
 * the minus sign that options need (a plain '-' may become a hyphen), and a leading '.'
 * or '\'' protected so that the line is not taken for a request.
 */
static void
roff_text(FILE *out, const char *text)
{
	if (text[0] == '.' || text[0] == '\'')
		fputs("\\&", out);
	for (const char *p = text; *p; p++)
	{
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-')
			fputs("\\-", out);
		else
			fputc(*p, out);
	}
}

/* roff_option writes "--name ARG" bold with its metavariable in italics. */
static void
roff_option(FILE *out, const char *synopsis)
{
	const char *space = strchr(synopsis, ' ');
	char		name[64];

	snprintf(name, sizeof(name), "%.*s",
			 (int) (space != NULL ? (size_t) (space - synopsis) : strlen(synopsis)), synopsis);
	fputs("\\fB", out);
	roff_text(out, name);
	fputs("\\fR", out);
	if (space != NULL)
	{
		fputs(" \\fI", out);
		roff_text(out, space + 1);
		fputs("\\fR", out);
	}
}

static void
print_options(FILE *out)
{
	SettingDescription d;

	fputs(".SH OPTIONS\n"
		  "Every setting is a long option and a line of the configuration file (see\n"
		  ".BR \"CONFIGURATION FILE\" ).\n"
		  "Settings marked\n"
		  ".B reloadable\n"
		  "take a new value from the file on\n"
		  ".BR SIGHUP ;\n"
		  "the others need a restart.\n",
		  out);
	for (size_t i = 0; config_describe_setting(i, &d); i++)
	{
		fputs(".TP\n", out);
		roff_option(out, d.synopsis);
		fputc('\n', out);
		roff_text(out, d.help);
		fputs(".\n.br\nDefault: ", out);
		roff_text(out, d.default_text);
		if (d.range[0] != '\0')
		{
			fputs("; ", out);
			roff_text(out, d.range);
		}
		fputs(d.reloadable ? "; reloadable.\n" : ".\n", out);
	}
	fputs(".TP\n"
		  "\\fB\\-\\-config\\fR \\fIFILE\\fR\n"
		  "Read settings from\n"
		  ".IR FILE ;\n"
		  "command-line options win over it.\n"
		  "Only on the command line.\n"
		  ".TP\n"
		  "\\fB\\-\\-print\\-config\\fR\n"
		  "Print an annotated configuration file with every default, and exit.\n"
		  ".TP\n"
		  "\\fB\\-\\-print\\-man\\fR\n"
		  "Print this manual page, and exit (the only argument).\n"
		  ".TP\n"
		  "\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n"
		  "Print the settings with their defaults, and exit.\n"
		  ".TP\n"
		  "\\fB\\-V\\fR, \\fB\\-\\-version\\fR\n"
		  "Print the version, and exit.\n",
		  out);
}

void
manpage_print(FILE *out)
{
	fputs(".\\\" toggles-pushd(8), written by toggles-pushd --print-man; do not edit.\n", out);
	fprintf(out, ".TH TOGGLES\\-PUSHD 8 \"\" \"toggles\\-pushd %s\" \"System Administration\"\n",
			PUSHD_VERSION);
	fputs(".SH NAME\n"
		  "toggles\\-pushd \\- serve pg_toggles feature toggles from PostgreSQL to WebSocket clients\n"
		  ".SH SYNOPSIS\n"
		  ".B toggles\\-pushd\n"
		  "[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fIOPTION\\fR...]\n"
		  ".br\n"
		  ".B toggles\\-pushd\n"
		  "\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR | \\fB\\-\\-print\\-config\\fR |"
		  " \\fB\\-\\-print\\-man\\fR\n"
		  ".SH DESCRIPTION\n"
		  ".B toggles\\-pushd\n"
		  "relays the feature toggles of the PostgreSQL extension pg_toggles to WebSocket\n"
		  "and HTTP clients: a snapshot when a client connects, then one message per\n"
		  "committed transaction that changed toggles, in commit order, within milliseconds.\n"
		  "It LISTENs on the database's channel\n"
		  ".BR toggles ,\n"
		  "reads every change from the durable change log\n"
		  ".BR toggles.changes ,\n"
		  "and serves the toggles from memory, evaluating each toggle's rules for each\n"
		  "client's context.\n"
		  ".PP\n"
		  "One process runs one event loop; the database link is watched, and while the\n"
		  "database is away clients are served the last state they had, then told to\n"
		  "retry elsewhere.\n"
		  "Clients present a token created with\n"
		  ".BR toggles.create_token() ,\n"
		  "unless anonymous clients are allowed.\n"
		  ".PP\n"
		  "Endpoints, on the one listening port:\n"
		  ".B /v1/stream\n"
		  "(WebSocket),\n"
		  ".B /v1/toggles\n"
		  "(the snapshot as JSON),\n"
		  ".B /healthz\n"
		  "and\n"
		  ".B /metrics\n"
		  "(Prometheus).\n",
		  out);
	print_options(out);
	fputs(".SH \"CONFIGURATION FILE\"\n"
		  "Lines\n"
		  ".RI \" name \" = \" value \"\n"
		  "with the long option names\n"
		  "(\\(oq_\\(cq may stand for \\(oq\\-\\(cq);\n"
		  "a value holding spaces, as a connection string does, is quoted with\n"
		  "\\(oq\\(aq\\(cq or \\(oq\"\\(cq;\n"
		  "\\(oq#\\(cq starts a comment at the start of a line or after white space.\n"
		  "Precedence: defaults, then the file, then the command line.\n"
		  "An invalid setting is reported with its name and the program exits with status 2;\n"
		  "on\n"
		  ".B SIGHUP\n"
		  "an invalid file is refused and the running settings stay.\n"
		  ".SH SIGNALS\n"
		  ".TP\n"
		  ".BR SIGTERM \", \" SIGINT\n"
		  "Close every client (1001), remove this node's connection rows, exit 0.\n"
		  "With \\fB\\-\\-workers\\fR above 1, sent to the parent: every worker does so, and\n"
		  "the parent exits after the last of them.\n"
		  ".TP\n"
		  ".B SIGHUP\n"
		  "Read the configuration file again and apply the reloadable settings; reload the\n"
		  "TLS certificate and key.\n"
		  "The parent of several workers passes it to each.\n"
		  ".SH ENVIRONMENT\n"
		  "libpq's variables apply to the database connection:\n"
		  ".BR PGHOST ,\n"
		  ".BR PGPORT ,\n"
		  ".BR PGDATABASE ,\n"
		  ".BR PGUSER ,\n"
		  ".BR PGSSLMODE ,\n"
		  "and\n"
		  ".B PGPASSFILE\n"
		  "for the file holding the password (readable by this user only), so that no\n"
		  "password is ever given on the command line.\n"
		  ".SH FILES\n"
		  ".TP\n"
		  ".I /etc/toggles\\-pushd/toggles\\-pushd.conf\n"
		  "The configuration file of the\n"
		  ".B toggles\\-pushd.service\n"
		  "unit installed by the Debian package: every setting, commented out at its\n"
		  "default.\n"
		  ".TP\n"
		  ".I /etc/toggles\\-pushd/pgpass\n"
		  "The database password, in libpq's password file format; the unit names it\n"
		  "in\n"
		  ".BR PGPASSFILE .\n"
		  ".SH \"EXIT STATUS\"\n"
		  "0 after a clean shutdown or a printing option, 1 when setting up failed (the\n"
		  "address is in use, a TLS file cannot be loaded), 2 for an invalid setting.\n"
		  ".SH LOGS\n"
		  "One line per event on standard error, with a UTC timestamp and a level; under\n"
		  "systemd they go to the journal:\n"
		  ".B journalctl \\-u toggles\\-pushd\n"
		  ".SH \"SEE ALSO\"\n"
		  ".BR psql (1),\n"
		  ".BR systemd.exec (5),\n"
		  ".BR journalctl (1).\n"
		  "The protocol, the operations guide and the security notes are in\n"
		  ".I /usr/share/doc/toggles\\-pushd\n"
		  "when installed from the Debian package, else in the source's\n"
		  ".I docs/\n"
		  "directory.\n",
		  out);
}
