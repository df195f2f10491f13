/*
 * closegen.c - realistic sample Close events; see closegen.h.
 *
 * The shapes follow CLOSE.md and Close's API reference; bench/gen makes
 * the same kind of traffic in Python and was the model for the common
 * types.  Where Close documents nothing (the rarer objects' exact fields)
 * the fields here are plausible ones, not facts.  Texts carry accents,
 * CJK, right-to-left scripts and emoji on purpose, so that bodies hold
 * \u escapes and surrogate pairs as Close's do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closeevents.h"
#include "closegen.h"

#define NUSERS 6
#define ID_MAX 64

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(g, a) ((a)[below((g), NELEM(a))])

struct user {
	char id[ID_MAX];
	char name[64];
	char email[96];
};

struct status {
	char id[ID_MAX];
	const char *label;
	const char *type; /* opportunity statuses: active, won, lost */
};

enum cf_kind {
	CF_TEXT,
	CF_NUMBER,
	CF_DATE,
	CF_CHOICES,
	CF_USER,
	CF_MULTI,
	CF_DECIMAL,
	CF_KINDS
};

struct cfield {
	char id[ID_MAX];
	const char *name;
	enum cf_kind kind;
};

struct cfset {
	struct cfield f[3];
	size_t n;
};

struct closegen {
	uint64_t s[4]; /* xoshiro256** state */
	int64_t now_ms;
	char org[ID_MAX];
	struct user users[NUSERS];
	struct status lead_st[5], opp_st[5];
	char pipeline[ID_MAX];
	struct cfset cf_lead, cf_contact, cf_opp, cf_acti, cf_co;
	char actitype[ID_MAX], cotype[ID_MAX];
	char api_keys[2][ID_MAX];
	struct jt **pool; /* per closeevents[] type: the object acted on */
	const char **last; /* and the last action it took, or NULL */
	struct jt_buf tmp; /* scratch for texts */
};

/* -- vocabulary (non-ASCII on purpose) -------------------------------- */

static const char *const first_names[] = { "John", "Emily", "José", "Zoë",
	"Björn", "François", "Łukasz", "Søren", "Ana", "Mohammed", "Priya",
	"Wei", "Ngozi", "Chloé", "Hiroshi", "Olga", "Seán", "Ayşe", "Mateus",
	"Ève", "Kwame", "Liam", "Sofía", "Dmitri", "翔太", "美咲", "Minh",
	"Jürgen", "Inés" };
static const char *const last_names[] = { "Smith", "Müller", "García", "Dvořák",
	"Nguyễn", "O'Brien", "Kowalski", "Østergaard", "Papadopoulos", "Yılmaz",
	"Silva", "Johnson", "Okafor", "山田", "李", "Ramírez", "Jones", "Kemp",
	"Van der Berg", "Šimić", "Côté", "Haddad", "Patel", "Kim",
	"Lindqvist" };
static const char *const companies[] = { "Acme Corp", "Müller & Söhne GmbH",
	"北京星辰科技有限公司", "Café Olé", "Østergaard ApS",
	"株式会社サンプル", "Globex", "Initech", "Société Générale de Test",
	"Dvořák s.r.o.", "Umbrella Logistics", "Hooli", "Pied Piper",
	"Stark Industries", "Wayne Enterprises", "Ñandú Software",
	"Zürich Analytics AG", "مؤسسة النور", "Soylent 🌱", "Vandelay Imports",
	"Kraków Data Sp. z o.o." };
static const struct {
	const char *city, *state, *zip, *country;
} cities[] = {
	{ "München", "BY", "80331", "DE" },
	{ "San Francisco", "CA", "94107", "US" },
	{ "São Paulo", "SP", "01310-100", "BR" },
	{ "東京", "", "100-0001", "JP" },
	{ "Montréal", "QC", "H2Y 1C6", "CA" },
	{ "New York", "NY", "10001", "US" },
	{ "Kraków", "", "31-001", "PL" },
	{ "Austin", "TX", "78701", "US" },
};
static const char *const streets[] = { "Main St", "Hauptstraße",
	"Rue de la Paix", "Market St", "Calle Mayor" };
static const char *const words[] = { "the", "a", "to", "and", "of", "for", "we",
	"you", "our", "your", "this", "that", "on", "in", "with", "is", "are",
	"will", "be", "call", "demo", "pricing", "contract", "renewal",
	"follow", "up", "next", "week", "team", "budget", "proposal", "quote",
	"meeting", "schedule", "thanks", "regards", "please", "let", "me",
	"know", "if", "questions", "discount", "seats", "license", "annual",
	"monthly", "integration", "API", "onboarding", "trial", "decision",
	"maker", "timeline", "Q1", "Q2", "Q3", "Q4", "signed", "approved",
	"legal", "review", "security", "questionnaire", "invoice", "über",
	"naïve", "résumé", "café", "déjà", "señor", "crème", "façade", "価格",
	"会議", "谢谢", "🚀", "👍", "🎉", "☕", "🔥", "✅", "—" };
static const char *const endings[] = { ".", "!", "?", ". 🎉", ". 👍" };
static const char *const subjects[] = { "Re: Pricing for %s", "Quick question",
	"Following up 👋", "Demo next week?", "Contract – %s",
	"Réunion de suivi", "Your trial of Close", "Re: Re: Onboarding %s",
	"見積もりの件", "Proposal attached 📎" };
static const char *const domains[] = { "example.com", "example.org",
	"example.net", "exämple.de" };
static const char *const titles[] = { "CEO", "CTO", "Head of Sales",
	"Directrice générale", "VP Ops", "CFO", "Head of Growth",
	"Responsable achats", "" };
static const char *const lead_labels[] = { "Potential", "Bad Fit", "Qualified",
	"Customer", "Cancelled" };
static const struct {
	const char *label, *type;
} opp_statuses[] = {
	{ "Active", "active" },
	{ "Demo Scheduled", "active" },
	{ "Negotiation", "active" },
	{ "Won", "won" },
	{ "Lost", "lost" },
};
static const char *const periods[] = { "one_time", "monthly", "annual" };
static const int confidences[] = { 10, 30, 50, 70, 90 };
static const int64_t deal_cents[] = { 100000, 250000, 1200000, 49900, 999900,
	1500000 };
static const char *const cf_names[] = { "Industry", "Lead Source", "Employees",
	"Renewal Date", "Tier", "Owner", "Région", "ARR", "Competitor",
	"Use case", "Segment", "NPS", "Territory", "Referral", "Priorité" };
static const char *const cf_types[] = { "text", "number", "date", "choices",
	"user", "datetime", "hidden" };
static const char *const choices[] = { "Inbound", "Outbound", "Partner",
	"Événement", "Gold" };
static const char *const teams[] = { "Sales", "Support", "Marketing", "R&D",
	"Ops" };
static const char *const rsvps[] = { "yes", "maybe", "no" };
static const char *const meeting_titles[] = { "Demo", "Kick-off", "Réunion",
	"QBR 🎯", "打ち合わせ" };
static const char *const locations[] = { "Zoom", "Google Meet", "Büro München",
	"Salle Eiffel" };
static const char *const form_names[] = { "Contact us", "Book a demo",
	"Newsletter", "Formulaire de contact" };
static const char *const form_statuses[] = { "new", "processed", "archived" };
static const char *const file_names[] = { "leads.csv",
	"Messe-Kontakte_2025.csv", "导入.csv", "webinar-attendees.csv" };
static const char *const group_names[] = { "Support", "Sales EMEA",
	"Account Executives", "Équipe Paris", "SDRs 🚀" };
static const char *const view_names[] = { "Hot leads 🔥", "My open deals",
	"Leads sans contact", "Follow up this week", "Trials ending" };
static const char *const template_names[] = { "First touch", "Follow up #2",
	"Relance douce", "Demo recap", "Break-up email" };
static const char *const template_subjects[] = { "Quick question",
	"Following up", "Notre échange" };
static const char *const sequence_names[] = { "Inbound trial nurture",
	"Outbound – CTOs", "Séquence partenaires", "Renewal reminders" };
static const char *const subscription_statuses[] = { "active", "paused",
	"finished" };
static const char *const type_names[] = { "Subscription", "Project",
	"Équipement", "契約", "Support Plan" };
static const char *const activity_type_names[] = { "Discovery Call",
	"Demo Requested", "Newsletter Signup", "Onsite Visit", "Rendez-vous" };
static const char *const phone_labels[] = { "Primary Number", "Sales line",
	"Support", "Ligne directe" };
static const char *const timezones[] = { "America/Los_Angeles",
	"America/New_York", "Europe/Berlin", "Europe/Paris", "Asia/Tokyo" };
static const char *const roles[] = { "admin", "superuser", "user",
	"restricteduser" };
static const char *const lead_status_names[] = { "Nurturing", "Interested",
	"Not now", "À recontacter" };
static const char *const opp_status_names[] = { "Proposal Sent", "Contracting",
	"Pilot", "Gewonnen" };
static const char *const opp_status_types[] = { "active", "won", "lost" };
static const char *const thread_types[] = { "activity.note", "activity.call",
	"activity.email" };

/* -- random stream: xoshiro256**, seeded through splitmix64 ------------ */

static uint64_t
rotl(uint64_t x, int k)
{
	return x << k | x >> (64 - k);
}

uint64_t
closegen_rand(struct closegen *g)
{
	uint64_t *s = g->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* A number in [0, n), n > 0. */
static uint64_t
below(struct closegen *g, uint64_t n)
{
	return closegen_rand(g) % n;
}

/* A number in [lo, hi]. */
static int64_t
between(struct closegen *g, int64_t lo, int64_t hi)
{
	return lo + (int64_t)below(g, (uint64_t)(hi - lo + 1));
}

/* 1 with a probability of permille / 1000. */
static int
chance(struct closegen *g, unsigned permille)
{
	return below(g, 1000) < permille;
}

void
closegen_id(struct closegen *g, const char *prefix, size_t n, char *out)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz";
	size_t p = strlen(prefix), i;

	memcpy(out, prefix, p);
	for (i = 0; i < n; i++)
		out[p + i] = b62[below(g, 62)];
	out[p + n] = '\0';
}

/* A fresh id as a JSON string. */
static struct jt *
newid(struct closegen *g, const char *prefix, size_t n)
{
	char id[ID_MAX];

	closegen_id(g, prefix, n, id);
	return jt_str(id);
}

/* -- dates: Close's formats, computed without the C library's zones --- */

/* Y-M-D of a day number since 1970-01-01 (proleptic Gregorian). */
static void
civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

enum datefmt {
	DATE_EVENT, /* 2019-01-15T12:48:23.395000 */
	DATE_DATA, /* 2019-01-15T12:41:24.496000+00:00 */
	DATE_DAY /* 2019-01-15 */
};

static struct jt *
date(int64_t ms, enum datefmt f)
{
	int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
	int64_t y, s = sec - days * 86400;
	unsigned m, d;

	civil(days, &y, &m, &d);
	if (f == DATE_DAY)
		return jt_strf("%04lld-%02u-%02u", (long long)y, m, d);
	return jt_strf("%04lld-%02u-%02uT%02d:%02d:%02d.%03d000%s",
	    (long long)y, m, d, (int)(s / 3600), (int)(s / 60 % 60),
	    (int)(s % 60), (int)(ms - sec * 1000),
	    f == DATE_DATA ? "+00:00" : "");
}

/* -- texts ---------------------------------------------------------------- */

/* A sentence of n words (at least one), capitalised, ended. */
static struct jt *
text(struct closegen *g, int n)
{
	struct jt_buf *b = &g->tmp;
	const char *w;
	int i;

	b->n = 0;
	for (i = 0; i < (n < 1 ? 1 : n); i++) {
		w = PICK(g, words);
		if (i > 0)
			jt_buf_add(b, " ", 1);
		jt_buf_add(b, w, strlen(w));
	}
	if (b->p[0] >= 'a' && b->p[0] <= 'z')
		b->p[0] = (char)(b->p[0] - 'a' + 'A');
	w = PICK(g, endings);
	jt_buf_add(b, w, strlen(w));
	return jt_strn(b->p, b->n);
}

/* About n words in paragraphs of 8 to 40 words, joined by a blank line. */
static struct jt *
paragraphs(struct closegen *g, int n)
{
	struct jt_buf out = { 0 };
	struct jt *t, *v;
	int k;

	do {
		k = (int)between(g, 8, 40);
		if (k > n)
			k = n;
		t = text(g, k);
		if (out.n > 0)
			jt_buf_add(&out, "\n\n", 2);
		jt_buf_add(&out, t->s, t->n);
		jt_free(t);
		n -= k;
	} while (n > 0);
	v = jt_strn(out.p, out.n);
	jt_buf_free(&out);
	return v;
}

/* "<p>paragraph</p>" for each paragraph of a text. */
static struct jt *
html_of(const struct jt *t)
{
	struct jt_buf out = { 0 };
	const char *p = t->s, *end = t->s + t->n, *nl;
	struct jt *v;

	while (p <= end) {
		nl = memmem(p, (size_t)(end - p), "\n\n", 2);
		if (nl == NULL)
			nl = end;
		jt_buf_add(&out, "<p>", 3);
		jt_buf_add(&out, p, (size_t)(nl - p));
		jt_buf_add(&out, "</p>", 4);
		p = nl + 2;
	}
	v = jt_strn(out.p, out.n);
	jt_buf_free(&out);
	return v;
}

/* The first n characters (code points, as Python slices) of a string. */
static struct jt *
prefix_chars(const struct jt *t, size_t n)
{
	size_t i = 0;

	while (i < t->n && n > 0) {
		i++;
		while (i < t->n && ((unsigned char)t->s[i] & 0xc0) == 0x80)
			i++;
		n--;
	}
	return jt_strn(t->s, i);
}

/* tpl with its "%s", if any, replaced by v. */
static void
subst(const char *tpl, const char *v, char *out, size_t cap)
{
	const char *at = strstr(tpl, "%s");

	if (at == NULL)
		snprintf(out, cap, "%s", tpl);
	else
		snprintf(out, cap, "%.*s%s%s", (int)(at - tpl), tpl, v, at + 2);
}

static void
person(struct closegen *g, char *out, size_t cap)
{
	snprintf(out, cap, "%s %s", PICK(g, first_names), PICK(g, last_names));
}

/* name's first word in lower-case ASCII, a number, a domain. */
static void
email_of(struct closegen *g, const char *name, char *out, size_t cap)
{
	char local[32];
	size_t n = 0;

	for (; *name != '\0' && *name != ' ' && n < sizeof(local) - 1; name++)
		if ((*name >= 'A' && *name <= 'Z') ||
		    (*name >= 'a' && *name <= 'z'))
			local[n++] = (char)(*name | 0x20);
	local[n] = '\0';
	snprintf(out, cap, "%s%d@%s", n > 0 ? local : "info",
	    (int)between(g, 1, 999), PICK(g, domains));
}

/* A US number in E.164 (num: 20 bytes) and as Close formats it (24). */
static void
phone(struct closegen *g, char *num, char *fmt)
{
	int a = (int)between(g, 201, 989), b = (int)between(g, 0, 9999);

	snprintf(num, 20, "+1%03d555%04d", a, b);
	snprintf(fmt, 24, "+1 %03d-555-%04d", a, b);
}

/* "$1,000" or "$1,234.50" for cents. */
static struct jt *
money(int64_t cents)
{
	char digits[32], out[48];
	int n = snprintf(
		digits, sizeof(digits), "%lld", (long long)(cents / 100)),
	    i, o = 0;

	out[o++] = '$';
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	if (cents % 100 != 0)
		o += snprintf(out + o, sizeof(out) - (size_t)o, ".%02d",
		    (int)(cents % 100));
	out[o] = '\0';
	return jt_str(out);
}

/* -- object helpers --------------------------------------------------- */

static void
sets(struct jt *o, const char *k, const char *s)
{
	jt_set(o, k, jt_str(s));
}

static void
seti(struct jt *o, const char *k, int64_t i)
{
	jt_set(o, k, jt_int(i));
}

static void
setnull(struct jt *o, const char *k)
{
	jt_set(o, k, jt_null());
}

static void
setb(struct jt *o, const char *k, int b)
{
	jt_set(o, k, jt_bool(b));
}

/* A string member's text, or "" when absent or not a string. */
static const char *
gets(const struct jt *o, const char *k)
{
	const struct jt *v = jt_get(o, k);

	return v != NULL && v->kind == JT_STR ? v->s : "";
}

/* An integer member's value, or 0 when absent or not a number. */
static int64_t
geti(const struct jt *o, const char *k)
{
	const struct jt *v = jt_get(o, k);

	return v != NULL && v->kind == JT_NUM ? strtoll(v->s, NULL, 10) : 0;
}

/* One of n strings (at least two differ) other than member k of o. */
static const char *
other(struct closegen *g, const char *const *a, size_t n, const struct jt *o,
    const char *k)
{
	const char *cur = gets(o, k), *s;

	do
		s = a[below(g, n)];
	while (strcmp(s, cur) == 0);
	return s;
}

/* A text that differs from member k of o. */
static struct jt *
other_text(
    struct closegen *g, const struct jt *o, const char *k, int lo, int hi)
{
	const struct jt *cur = jt_get(o, k);
	struct jt *t;

	for (;;) {
		t = text(g, (int)between(g, lo, hi));
		if (cur == NULL || !jt_equal(t, cur))
			return t;
		jt_free(t);
	}
}

/* A number in [lo, hi] (lo < hi) that differs from member k of o. */
static int64_t
other_int(struct closegen *g, const struct jt *o, const char *k, int64_t lo,
    int64_t hi)
{
	const struct jt *cur = jt_get(o, k);
	int64_t v;

	do
		v = between(g, lo, hi);
	while (cur != NULL && cur->kind == JT_NUM &&
	    strtoll(cur->s, NULL, 10) == v);
	return v;
}

static const struct user *
any_user(struct closegen *g)
{
	return &g->users[below(g, NUSERS)];
}

/* The fields Close stamps on most objects. */
static void
stamp(struct closegen *g, struct jt *o, int64_t tc, int64_t tu,
    const struct user *u, int names)
{
	sets(o, "organization_id", g->org);
	jt_set(o, "date_created", date(tc, DATE_DATA));
	jt_set(o, "date_updated", date(tu, DATE_DATA));
	sets(o, "created_by", u->id);
	sets(o, "updated_by", u->id);
	if (names)
		sets(o, "updated_by_name", u->name);
}

static struct jt *
cf_value(struct closegen *g, enum cf_kind kind, int64_t t)
{
	struct jt *a;
	uint64_t n;
	size_t i;

	switch (kind) {
	case CF_TEXT:
		return text(g, (int)between(g, 1, 4));
	case CF_NUMBER:
		return jt_int(between(g, 1, 5000));
	case CF_DATE:
		return date(t - between(g, 0, 400) * 86400000, DATE_DAY);
	case CF_CHOICES:
		return jt_str(PICK(g, choices));
	case CF_USER:
		return jt_str(any_user(g)->id);
	case CF_MULTI:
		a = jt_arr();
		n = below(g, 4);
		for (i = 0; i < NELEM(teams) && n > 0; i++)
			if (chance(g, 500)) {
				jt_push(a, jt_str(teams[i]));
				n--;
			}
		return a;
	default:
		return jt_cents(between(g, 0, 10000000));
	}
}

/*
 * Set custom field f of o to v: the flat "custom.cf_..." key, and the
 * deprecated nested "custom" dict when the object carries one.
 */
static void
set_custom(struct jt *o, const struct cfield *f, struct jt *v)
{
	char key[ID_MAX + 8];
	struct jt *nested = jt_get(o, "custom");

	snprintf(key, sizeof(key), "custom.%s", f->id);
	if (nested != NULL && nested->kind == JT_OBJ)
		jt_set(nested, f->name, jt_copy(v));
	jt_set(o, key, v);
}

/* Flat custom fields, about two in three set; sometimes the nested dict. */
static void
add_custom(struct closegen *g, struct jt *o, const struct cfset *cs, int64_t t)
{
	size_t i;

	if (chance(g, 200))
		jt_set(o, "custom", jt_obj());
	for (i = 0; i < cs->n; i++)
		if (chance(g, 650))
			set_custom(o, &cs->f[i], cf_value(g, cs->f[i].kind, t));
}

/* Change one custom field of o to a value that differs. */
static void
change_custom(
    struct closegen *g, struct jt *o, const struct cfset *cs, int64_t t)
{
	const struct cfield *f = &cs->f[below(g, cs->n)];
	char key[ID_MAX + 8];
	const struct jt *cur;
	struct jt *v;

	snprintf(key, sizeof(key), "custom.%s", f->id);
	cur = jt_get(o, key);
	for (;;) {
		v = cf_value(g, f->kind, t);
		if (cur == NULL || !jt_equal(v, cur))
			break;
		jt_free(v);
	}
	set_custom(o, f, v);
}

/* -- the objects an event's data holds --------------------------------- */

static size_t
type_index(const char *type)
{
	long i = closeevents_find(type, strlen(type));

	if (i < 0)
		cli_fatalx("closegen: %s is not in the event table", type);
	return (size_t)i;
}

static int
is_job(const char *type)
{
	return strcmp(type, "import") == 0 ||
	    strncmp(type, "export.", 7) == 0 ||
	    strncmp(type, "bulk_action.", 12) == 0;
}

static struct jt *
new_object(struct closegen *, const char *type, int64_t t, const struct user *);

/*
 * The object of a type that events act on: the one remembered, else one
 * made before the stream began (its creation was never seen).  Jobs run
 * for minutes, the rest lives for days or months.
 */
static struct jt *
current(struct closegen *g, const char *type, int64_t t)
{
	size_t ti = type_index(type);
	int64_t born;

	if (g->pool[ti] == NULL) {
		if (is_job(type))
			born = t - between(g, 60000, 1800000);
		else
			born = t - between(g, 1, 400) * 86400000 -
			    between(g, 0, 86399999);
		g->pool[ti] = new_object(g, type, born, any_user(g));
		g->last[ti] = NULL;
	}
	return g->pool[ti];
}

static struct jt *
new_lead(struct closegen *g, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *addrs = jt_arr(), *a;
	const char *name = PICK(g, companies);
	const struct status *st = &g->lead_st[below(g, 5)];
	char buf[96];
	size_t c;

	sets(o, "status_label", st->label);
	sets(o, "display_name", name);
	sets(o, "name", name);
	jt_set(o, "description",
	    chance(g, 300) ? text(g, (int)between(g, 3, 25)) : jt_str(""));
	if (chance(g, 400))
		sets(o, "url", "https://www.example.com/");
	if (chance(g, 400)) {
		c = below(g, NELEM(cities));
		a = jt_obj();
		sets(a, "label", "business");
		snprintf(buf, sizeof(buf), "%d %s", (int)between(g, 1, 999),
		    PICK(g, streets));
		sets(a, "address_1", buf);
		sets(a, "address_2", "");
		sets(a, "city", cities[c].city);
		sets(a, "state", cities[c].state);
		sets(a, "zipcode", cities[c].zip);
		sets(a, "country", cities[c].country);
		jt_push(addrs, a);
	}
	jt_set(o, "addresses", addrs);
	sets(o, "status_id", st->id);
	jt_set(o, "id", newid(g, "lead_", 43));
	stamp(g, o, t, t, u, 1);
	add_custom(g, o, &g->cf_lead, t);
	return o;
}

static struct jt *
new_contact(struct closegen *g, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *lead = current(g, "lead", t), *a, *e;
	char name[64], mail[96], num[20], fmt[24];

	person(g, name, sizeof(name));
	sets(o, "name", name);
	sets(o, "title", PICK(g, titles));
	sets(o, "display_name", name);
	sets(o, "lead_id", gets(lead, "id"));
	a = jt_arr();
	e = jt_obj();
	sets(e, "type", "office");
	email_of(g, name, mail, sizeof(mail));
	sets(e, "email", mail);
	setb(e, "is_unsubscribed", 0);
	jt_push(a, e);
	jt_set(o, "emails", a);
	a = jt_arr();
	if (chance(g, 700)) {
		e = jt_obj();
		sets(e, "type", "office");
		phone(g, num, fmt);
		sets(e, "phone", num);
		sets(e, "phone_formatted", fmt);
		sets(e, "country", "US");
		jt_push(a, e);
	}
	jt_set(o, "phones", a);
	jt_set(o, "urls", jt_arr());
	jt_set(o, "id", newid(g, "cont_", 43));
	stamp(g, o, t, t, u, 1);
	add_custom(g, o, &g->cf_contact, t);
	return o;
}

static struct jt *
new_opportunity(struct closegen *g, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *lead = current(g, "lead", t);
	const struct status *st = &g->opp_st[below(g, 3)];
	const char *period = PICK(g, periods);
	int64_t cents =
	    chance(g, 500) ? PICK(g, deal_cents) : between(g, 1, 5000) * 100;
	char name[64];

	person(g, name, sizeof(name));
	sets(o, "contact_name", name);
	sets(o, "user_name", u->name);
	sets(o, "value_period", period);
	setnull(o, "date_created");
	sets(o, "user_id", u->id);
	sets(o, "value_currency", "USD");
	sets(o, "status_label", st->label);
	jt_set(o, "contact_id", newid(g, "cont_", 43));
	sets(o, "status_type", st->type);
	jt_set(o, "id", newid(g, "oppo_", 43));
	sets(o, "lead_name", gets(lead, "display_name"));
	setnull(o, "date_lost");
	jt_set(o, "note",
	    chance(g, 400) ? text(g, (int)between(g, 3, 40)) : jt_str(""));
	sets(o, "status_id", st->id);
	sets(o, "pipeline_id", g->pipeline);
	seti(o, "value", cents);
	jt_set(o, "value_formatted", money(cents));
	setnull(o, "date_won");
	sets(o, "lead_id", gets(lead, "id"));
	seti(o, "confidence", PICK(g, confidences));
	seti(o, "annualized_value",
	    strcmp(period, "monthly") == 0 ? cents * 12 : cents);
	stamp(g, o, t, t, u, 1);
	add_custom(g, o, &g->cf_opp, t);
	return o;
}

/* What each kind of task is about: the object Close made it for. */
static const struct {
	const char *kind, *about, *prefix, *text;
} task_kinds[] = {
	{ "lead", NULL, NULL, NULL },
	{ "incoming_email", "activity.email", "acti_", "Reply to " },
	{ "email_followup", "activity.email", "acti_", "Follow up with " },
	{ "missed_call", "activity.call", "acti_", "Missed call from " },
	{ "answered_detached_call", "activity.call", "acti_",
	    "Call answered by a colleague: " },
	{ "voicemail", "activity.call", "acti_", "Voicemail from " },
	{ "opportunity_due", "opportunity", "oppo_", "Opportunity due: " },
	{ "incoming_sms", "activity.sms", "acti_", "Reply to SMS from " },
};

static struct jt *
new_task(struct closegen *g, const char *kind, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *lead = current(g, "lead", t);
	const struct user *who = any_user(g);
	int64_t due = t + between(g, 0, 14) * 86400000;
	char name[64];
	size_t i;

	for (i = 0; i < NELEM(task_kinds); i++)
		if (strcmp(task_kinds[i].kind, kind) == 0)
			break;
	if (i == NELEM(task_kinds))
		i = 0;
	sets(o, "_type", kind);
	sets(o, "assigned_to", who->id);
	sets(o, "assigned_to_name", who->name);
	sets(o, "lead_id", gets(lead, "id"));
	sets(o, "lead_name", gets(lead, "display_name"));
	if (task_kinds[i].about != NULL) {
		person(g, name, sizeof(name));
		jt_set(o, "text", jt_strf("%s%s", task_kinds[i].text, name));
		jt_set(o, "object_id", newid(g, task_kinds[i].prefix, 43));
		sets(o, "object_type", task_kinds[i].about);
	} else
		jt_set(o, "text", text(g, (int)between(g, 2, 20)));
	jt_set(o, "date",
	    chance(g, 700) ? date(due, DATE_DAY) : date(due, DATE_DATA));
	jt_set(o, "due_date", date(due, DATE_DAY));
	setb(o, "is_complete", 0);
	jt_set(o, "id", newid(g, "task_", 43));
	stamp(g, o, t, t, u, 1);
	return o;
}

/* The contact of an activity: the last contact when it is the lead's. */
static struct jt *
activity_contact(struct closegen *g, const struct jt *lead)
{
	const struct jt *c = g->pool[type_index("contact")];

	if (c != NULL && strcmp(gets(c, "lead_id"), gets(lead, "id")) == 0)
		return jt_str(gets(c, "id"));
	return chance(g, 600) ? newid(g, "cont_", 43) : jt_null();
}

/* Someone with an address: {"email": ..., "name": ...}. */
static struct jt *
someone(struct closegen *g)
{
	struct jt *a = jt_obj();
	char name[64], mail[96];

	person(g, name, sizeof(name));
	email_of(g, name, mail, sizeof(mail));
	sets(a, "email", mail);
	sets(a, "name", name);
	return a;
}

static struct jt *
attendee(struct closegen *g)
{
	struct jt *a = someone(g);

	sets(a, "status", PICK(g, rsvps));
	setnull(a, "contact_id");
	setnull(a, "user_id");
	return a;
}

static void
email_activity(struct closegen *g, struct jt *o, const struct jt *lead,
    const struct user *u)
{
	struct jt *body = paragraphs(g, (int)between(g, 8, 120)), *a, *e, *p;
	int in = chance(g, 500);
	char contact[64], me[96], them[96], buf[256];

	person(g, contact, sizeof(contact));
	email_of(g, u->name, me, sizeof(me));
	email_of(g, contact, them, sizeof(them));
	sets(o, "_type", "Email");
	sets(o, "direction", in ? "incoming" : "outgoing");
	sets(o, "status", in ? "inbox" : "draft");
	subst(PICK(g, subjects), gets(lead, "display_name"), buf, sizeof(buf));
	sets(o, "subject", buf);
	snprintf(buf, sizeof(buf), "%s <%s>", in ? contact : u->name,
	    in ? them : me);
	sets(o, "sender", buf);
	a = jt_arr();
	jt_push(a, jt_str(in ? me : them));
	jt_set(o, "to", a);
	jt_set(o, "cc", jt_arr());
	jt_set(o, "bcc", jt_arr());
	jt_set(o, "body_text", body);
	jt_set(o, "body_html", chance(g, 400) ? html_of(body) : jt_str(""));
	jt_set(o, "body_preview", prefix_chars(body, 100));
	a = jt_arr();
	if (chance(g, 100)) {
		e = jt_obj();
		sets(e, "filename", "proposal.pdf");
		seti(e, "size", between(g, 10000, 900000));
		sets(e, "content_type", "application/pdf");
		jt_set(e, "url",
		    jt_strf("https://app.close.com/go/email/attachment/%s/",
			gets(o, "id")));
		jt_push(a, e);
	}
	jt_set(o, "attachments", a);
	jt_set(o, "opens", jt_arr());
	setnull(o, "date_sent");
	setnull(o, "template_id");
	jt_set(o, "thread_id", newid(g, "acti_", 43));
	if (in) {
		/* Mail that arrived keeps its envelope. */
		e = jt_obj();
		a = jt_arr();
		p = jt_obj();
		sets(p, "email", them);
		sets(p, "name", contact);
		jt_push(a, p);
		jt_set(e, "from", a);
		a = jt_arr();
		p = jt_obj();
		sets(p, "email", me);
		sets(p, "name", u->name);
		jt_push(a, p);
		jt_set(e, "to", a);
		sets(e, "subject", gets(o, "subject"));
		jt_set(e, "message_id",
		    jt_strf("<%s@mail.example.com>", gets(o, "thread_id") + 5));
		jt_set(o, "envelope", e);
	}
}

/* A deal's confidence once it has a status of this type. */
static int
confidence_of(const char *type)
{
	if (strcmp(type, "won") == 0)
		return 100;
	if (strcmp(type, "lost") == 0)
		return 0;
	return 50;
}

/* Two different statuses of n. */
static void
two_statuses(struct closegen *g, const struct status *st, size_t n,
    const struct status **a, const struct status **b)
{
	*a = &st[below(g, n)];
	do
		*b = &st[below(g, n)];
	while (*b == *a);
}

static struct jt *
new_activity(
    struct closegen *g, const char *kind, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *lead = current(g, "lead", t), *v, *a;
	const struct status *s1, *s2;
	char num[20], fmt[24], name[64], mail[96];
	int64_t start, cents;
	int i, n;

	sets(o, "lead_id", gets(lead, "id"));
	sets(o, "user_id", u->id);
	sets(o, "user_name", u->name);
	jt_set(o, "contact_id", activity_contact(g, lead));
	jt_set(o, "id", newid(g, "acti_", 43));
	if (strcmp(kind, "email") == 0) {
		email_activity(g, o, lead, u);
	} else if (strcmp(kind, "email_thread") == 0) {
		sets(o, "_type", "EmailThread");
		jt_set(o, "subject",
		    jt_strf("Re: %s", gets(lead, "display_name")));
		sets(
		    o, "latest_normalized_subject", gets(lead, "display_name"));
		seti(o, "n_emails", between(g, 1, 6));
		a = jt_arr();
		for (i = 0, n = (int)between(g, 1, 3); i < n; i++)
			jt_push(a, someone(g));
		jt_set(o, "participants", a);
		jt_set(o, "emails", jt_arr());
	} else if (strcmp(kind, "call") == 0) {
		phone(g, num, fmt);
		sets(o, "_type", "Call");
		sets(o, "direction", chance(g, 500) ? "outbound" : "inbound");
		sets(o, "status", "in-progress");
		setnull(o, "disposition");
		seti(o, "duration", 0);
		sets(o, "phone", num);
		sets(o, "local_phone", "+14155550100");
		sets(o, "remote_phone", num);
		sets(o, "remote_phone_formatted", fmt);
		sets(o, "source", chance(g, 800) ? "Close.io" : "External");
		v = chance(g, 400) ? text(g, (int)between(g, 3, 30))
				   : jt_str("");
		jt_set(o, "note_html",
		    v->n > 0 ? jt_strf("<p>%s</p>", v->s) : jt_str(""));
		jt_set(o, "note", v);
		setnull(o, "recording_url");
	} else if (strcmp(kind, "sms") == 0) {
		phone(g, num, fmt);
		sets(o, "_type", "SMS");
		sets(o, "direction", chance(g, 500) ? "outbound" : "inbound");
		sets(o, "status", "draft");
		jt_set(o, "text", text(g, (int)between(g, 3, 45)));
		sets(o, "local_phone", "+14155550100");
		sets(o, "local_phone_formatted", "+1 415-555-0100");
		sets(o, "remote_phone", num);
		sets(o, "remote_phone_formatted", fmt);
		jt_set(o, "attachments", jt_arr());
		sets(o, "source", "Close.io");
		setnull(o, "date_scheduled");
		setnull(o, "date_sent");
		setnull(o, "template_id");
	} else if (strcmp(kind, "whatsapp_message") == 0) {
		phone(g, num, fmt);
		sets(o, "_type", "WhatsAppMessage");
		sets(o, "direction", chance(g, 500) ? "outbound" : "inbound");
		jt_set(
		    o, "external_whatsapp_message_id", newid(g, "wamid.", 32));
		jt_set(o, "message_markdown", text(g, (int)between(g, 2, 30)));
		sets(o, "local_phone", "+14155550100");
		sets(o, "remote_phone", num);
		jt_set(o, "attachments", jt_arr());
		setnull(o, "response_to_id");
	} else if (strcmp(kind, "note") == 0) {
		v = paragraphs(g, (int)between(g, 5, 80));
		sets(o, "_type", "Note");
		jt_set(o, "note_html", html_of(v));
		jt_set(o, "note", v);
		setnull(o, "title");
		jt_set(o, "attachments", jt_arr());
		setb(o, "pinned", chance(g, 50));
	} else if (strcmp(kind, "meeting") == 0) {
		start = t + between(g, 1, 20) * 3600000;
		sets(o, "_type", "Meeting");
		sets(o, "title", PICK(g, meeting_titles));
		sets(o, "location", PICK(g, locations));
		jt_set(o, "starts_at", date(start, DATE_DATA));
		jt_set(o, "ends_at", date(start + 1800000, DATE_DATA));
		seti(o, "duration", 1800);
		sets(o, "status", "draft");
		jt_set(o, "note", text(g, (int)between(g, 2, 30)));
		a = jt_arr();
		for (i = 0, n = (int)between(g, 1, 3); i < n; i++)
			jt_push(a, attendee(g));
		jt_set(o, "attendees", a);
		sets(o, "source", "calendar");
		setb(o, "is_recurring", 0);
		jt_set(o, "provider_calendar_event_id", newid(g, "", 26));
	} else if (strcmp(kind, "form_submission") == 0) {
		sets(o, "_type", "FormSubmission");
		jt_set(o, "form_id", newid(g, "form_", 22));
		sets(o, "form_name", PICK(g, form_names));
		a = jt_obj();
		person(g, name, sizeof(name));
		sets(a, "Name", name);
		email_of(g, name, mail, sizeof(mail));
		sets(a, "Email", mail);
		jt_set(a, "Message", text(g, (int)between(g, 3, 25)));
		jt_set(o, "fields", a);
		sets(o, "status", "new");
	} else if (strcmp(kind, "lead_status_change") == 0) {
		two_statuses(g, g->lead_st, 5, &s1, &s2);
		sets(o, "_type", "LeadStatusChange");
		sets(o, "old_status_id", s1->id);
		sets(o, "old_status_label", s1->label);
		sets(o, "new_status_id", s2->id);
		sets(o, "new_status_label", s2->label);
	} else if (strcmp(kind, "opportunity_status_change") == 0) {
		two_statuses(g, g->opp_st, 5, &s1, &s2);
		cents = between(g, 1, 5000) * 100;
		sets(o, "_type", "OpportunityStatusChange");
		jt_set(o, "opportunity_id", newid(g, "oppo_", 43));
		sets(o, "old_status_id", s1->id);
		sets(o, "old_status_label", s1->label);
		sets(o, "old_status_type", s1->type);
		sets(o, "new_status_id", s2->id);
		sets(o, "new_status_label", s2->label);
		sets(o, "new_status_type", s2->type);
		seti(o, "opportunity_value", cents);
		jt_set(o, "opportunity_value_formatted", money(cents));
		sets(o, "opportunity_value_currency", "USD");
		sets(o, "opportunity_value_period", "one_time");
		seti(o, "opportunity_confidence", confidence_of(s2->type));
		jt_set(o, "opportunity_date_won",
		    strcmp(s2->type, "won") == 0 ? date(t, DATE_DAY)
						 : jt_null());
	} else if (strcmp(kind, "task_completed") == 0) {
		sets(o, "_type", "TaskCompleted");
		jt_set(o, "task_id", newid(g, "task_", 43));
		jt_set(o, "task_text", text(g, (int)between(g, 2, 15)));
		sets(o, "task_assigned_to", u->id);
		sets(o, "task_assigned_to_name", u->name);
	} else {
		sets(o, "_type", "CustomActivity");
		sets(o, "custom_activity_type_id", g->actitype);
		sets(o, "status", chance(g, 700) ? "published" : "draft");
		add_custom(g, o, &g->cf_acti, t);
	}
	stamp(g, o, t, t, u, 0);
	return o;
}

static struct jt *
status_obj(struct closegen *g, int opp)
{
	struct jt *o = jt_obj();

	jt_set(o, "id", newid(g, "stat_", 43));
	if (opp) {
		sets(o, "label", PICK(g, opp_status_names));
		sets(o, "type", PICK(g, opp_status_types));
		sets(o, "pipeline_id", g->pipeline);
	} else
		sets(o, "label", PICK(g, lead_status_names));
	sets(o, "organization_id", g->org);
	return o;
}

/* A custom field definition, of the given object type's. */
static struct jt *
field_def(struct closegen *g, const char *of, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *c, *a;
	const char *kind = PICK(g, cf_types);
	size_t i;

	jt_set(o, "id", newid(g, "cf_", 43));
	sets(o, "name", PICK(g, cf_names));
	jt_set(o, "description",
	    chance(g, 500) ? text(g, (int)between(g, 3, 12)) : jt_null());
	sets(o, "type", kind);
	if (strcmp(kind, "choices") == 0) {
		c = jt_arr();
		for (i = 0; i < NELEM(choices); i++)
			jt_push(c, jt_str(choices[i]));
		jt_set(o, "choices", c);
	} else
		setnull(o, "choices");
	setb(o, "accepts_multiple_values",
	    strcmp(kind, "choices") == 0 && chance(g, 300));
	jt_set(o, "editable_with_roles", jt_arr());
	if (strcmp(of, "activity") == 0) {
		sets(o, "custom_activity_type_id", g->actitype);
		setb(o, "required", chance(g, 200));
	} else if (strcmp(of, "custom_object") == 0) {
		sets(o, "custom_object_type_id", g->cotype);
		setb(o, "required", chance(g, 200));
	} else if (strcmp(of, "shared") == 0) {
		a = jt_arr();
		for (i = 0; i < 2; i++) {
			c = jt_obj();
			sets(c, "object_type", i == 0 ? "lead" : "contact");
			setb(c, "required", 0);
			jt_set(c, "editable_with_roles", jt_arr());
			jt_push(a, c);
		}
		jt_set(o, "associations", a);
	}
	sets(o, "organization_id", g->org);
	jt_set(o, "date_created", date(t, DATE_DATA));
	jt_set(o, "date_updated", date(t, DATE_DATA));
	sets(o, "created_by", u->id);
	sets(o, "updated_by", u->id);
	return o;
}

/* The query of a saved search or an export: a smart view. */
static struct jt *
s_query(struct closegen *g)
{
	struct jt *s = jt_obj();

	sets(s, "type", "saved_search");
	jt_set(s, "saved_search_id", newid(g, "save_", 43));
	return s;
}

/* Imports, exports and bulk actions: jobs Close runs for a user. */
static struct jt *
new_job(struct closegen *g, const char *type, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj();

	if (strcmp(type, "import") == 0) {
		jt_set(o, "id", newid(g, "import_", 43));
		sets(o, "status", "created");
		sets(o, "type", "csv");
		sets(o, "file_name", PICK(g, file_names));
		seti(o, "total_leads", between(g, 10, 50000));
		seti(o, "new_leads", 0);
		seti(o, "updated_leads", 0);
		jt_set(o, "errors", jt_arr());
		sets(o, "organization_id", g->org);
		sets(o, "user_id", u->id);
	} else if (strncmp(type, "export.", 7) == 0) {
		jt_set(o, "id", newid(g, "expr_", 43));
		jt_set(o, "type", jt_strf("%ss", type + 7));
		sets(o, "format", chance(g, 700) ? "csv" : "json");
		sets(o, "status", "created");
		setnull(o, "n_docs");
		setnull(o, "download_url");
		jt_set(o, "s_query", s_query(g));
		sets(o, "organization_id", g->org);
		sets(o, "created_by", u->id);
	} else {
		jt_set(o, "id", newid(g, "bulk_", 43));
		sets(o, "status", "created");
		sets(o, "type", type + 12);
		seti(o, "n_objects_total", between(g, 2, 20000));
		seti(o, "n_objects_processed", 0);
		jt_set(o, "s_query", s_query(g));
		setnull(o, "results_limit");
		jt_set(o, "sort", jt_arr());
		if (strcmp(type + 12, "email") == 0)
			jt_set(o, "template_id", newid(g, "tmpl_", 43));
		else if (strcmp(type + 12, "sequence_subscription") == 0) {
			sets(o, "action_type", "subscribe");
			jt_set(o, "sequence_id", newid(g, "seq_", 22));
		}
		sets(o, "organization_id", g->org);
		sets(o, "created_by", u->id);
	}
	jt_set(o, "date_created", date(t, DATE_DATA));
	jt_set(o, "date_updated", date(t, DATE_DATA));
	return o;
}

/* Customisation: custom activity and object types. */
static struct jt *
new_type_def(
    struct closegen *g, const char *type, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj();

	if (strcmp(type, "custom_activity_type") == 0) {
		setb(o, "api_create_only", chance(g, 200));
		sets(o, "created_by", u->id);
		jt_set(o, "date_created", date(t, DATE_DATA));
		jt_set(o, "date_updated", date(t, DATE_DATA));
		jt_set(o, "description", text(g, (int)between(g, 3, 12)));
		jt_set(o, "editable_with_roles", jt_arr());
		jt_set(o, "fields", jt_arr());
		jt_set(o, "id", newid(g, "actitype_", 22));
		setb(o, "is_archived", 0);
		sets(o, "name", PICK(g, activity_type_names));
		sets(o, "organization_id", g->org);
		sets(o, "updated_by", u->id);
		return o;
	}
	jt_set(o, "id", newid(g, "cotype_", 22));
	sets(o, "name", PICK(g, type_names));
	jt_set(o, "name_plural", jt_strf("%ss", gets(o, "name")));
	jt_set(o, "description", text(g, (int)between(g, 3, 12)));
	setb(o, "api_create_only", 0);
	jt_set(o, "editable_with_roles", jt_arr());
	jt_set(o, "fields", jt_arr());
	jt_set(o, "back_reference_fields", jt_arr());
	stamp(g, o, t, t, u, 0);
	return o;
}

/* The organisation's setup: memberships, groups, phone numbers, views. */
static struct jt *
new_setup(struct closegen *g, const char *type, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *a, *s;
	const struct user *who;
	char num[20], fmt[24];
	int i, n;

	if (strcmp(type, "membership") == 0) {
		who = any_user(g);
		jt_set(o, "id", newid(g, "memb_", 43));
		sets(o, "user_id", who->id);
		sets(o, "user_full_name", who->name);
		sets(o, "user_email", who->email);
		sets(o, "organization_id", g->org);
		sets(o, "role_id", PICK(g, roles));
		sets(o, "auto_record_calls", "unset");
		setb(o, "track_email_opens", 1);
		jt_set(o, "date_created", date(t, DATE_DATA));
		jt_set(o, "date_updated", date(t, DATE_DATA));
	} else if (strcmp(type, "group") == 0) {
		jt_set(o, "id", newid(g, "group_", 22));
		a = jt_arr();
		for (i = 0, n = (int)between(g, 0, 3); i < n; i++) {
			s = jt_obj();
			sets(s, "user_id", g->users[i].id);
			jt_push(a, s);
		}
		jt_set(o, "members", a);
		sets(o, "name", PICK(g, group_names));
		sets(o, "organization_id", g->org);
	} else if (strcmp(type, "saved_search") == 0) {
		jt_set(o, "id", newid(g, "save_", 43));
		sets(o, "name", PICK(g, view_names));
		sets(o, "type", "lead");
		s = jt_obj();
		sets(s, "type", "and");
		a = jt_arr();
		jt_push(a, jt_obj());
		sets(a->elem[0], "type", "object_type");
		sets(a->elem[0], "object_type", "lead");
		jt_set(s, "queries", a);
		jt_set(o, "s_query", s);
		setb(o, "is_shared", chance(g, 500));
		sets(o, "user_id", u->id);
		stamp(g, o, t, t, u, 0);
	} else {
		phone(g, num, fmt);
		jt_set(o, "id", newid(g, "phon_", 43));
		sets(o, "number", num);
		sets(o, "number_formatted", fmt);
		sets(o, "label", PICK(g, phone_labels));
		sets(o, "country", "US");
		setb(o, "is_group_number", 0);
		setb(o, "is_verified", 1);
		sets(o, "user_id", u->id);
		jt_set(o, "participants", jt_arr());
		setb(o, "sms_enabled", 1);
		setb(o, "mms_enabled", 1);
		setnull(o, "forward_to");
		setb(o, "forward_to_enabled", 0);
		setnull(o, "forward_to_formatted");
		sets(o, "type", "internal");
		setnull(o, "voicemail_greeting_url");
		sets(o, "organization_id", g->org);
		jt_set(o, "date_created", date(t, DATE_DATA));
		jt_set(o, "date_updated", date(t, DATE_DATA));
	}
	return o;
}

/* Outreach: templates, sequences and their subscriptions. */
static struct jt *
new_outreach(
    struct closegen *g, const char *type, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *a, *s, *lead;
	char name[64], mail[96];
	int i, n;

	if (strcmp(type, "email_template") == 0) {
		jt_set(o, "id", newid(g, "tmpl_", 43));
		sets(o, "name", PICK(g, template_names));
		jt_set(o, "subject",
		    jt_strf("%s – {{ lead.display_name }}",
			PICK(g, template_subjects)));
		s = text(g, (int)between(g, 10, 40));
		jt_set(o, "body",
		    jt_strf(
			"<p>Hi {{ contact.first_name }},</p><p>%s</p>", s->s));
		jt_free(s);
		setb(o, "is_shared", 1);
		setb(o, "is_archived", 0);
		jt_set(o, "attachments", jt_arr());
		jt_set(o, "bcc", jt_arr());
		jt_set(o, "cc", jt_arr());
		stamp(g, o, t, t, u, 0);
	} else if (strcmp(type, "sms_template") == 0) {
		jt_set(o, "id", newid(g, "smstmpl_", 43));
		sets(o, "name", PICK(g, template_names));
		jt_set(o, "text", text(g, (int)between(g, 5, 25)));
		setb(o, "is_shared", 1);
		sets(o, "status", "active");
		jt_set(o, "attachments", jt_arr());
		sets(o, "owned_by", u->id);
		stamp(g, o, t, t, u, 0);
	} else if (strcmp(type, "sequence") == 0) {
		jt_set(o, "id", newid(g, "seq_", 22));
		sets(o, "name", PICK(g, sequence_names));
		sets(o, "status", "active");
		sets(o, "timezone", PICK(g, timezones));
		setnull(o, "schedule");
		a = jt_arr();
		for (i = 0, n = (int)between(g, 1, 4); i < n; i++) {
			s = jt_obj();
			jt_set(s, "id", newid(g, "seqstep_", 22));
			sets(s, "step_type", i % 2 ? "email" : "call");
			seti(s, "delay", i == 0 ? 0 : 86400 * between(g, 1, 4));
			jt_set(s, "email_template_id",
			    i % 2 ? newid(g, "tmpl_", 43) : jt_null());
			setnull(s, "sms_template_id");
			jt_set(s, "threading",
			    i % 2 ? jt_str("old_thread") : jt_null());
			setb(s, "required", 1);
			jt_push(a, s);
		}
		jt_set(o, "steps", a);
		sets(o, "organization_id", g->org);
		sets(o, "created_by_id", u->id);
		sets(o, "updated_by_id", u->id);
		jt_set(o, "date_created", date(t, DATE_DATA));
		jt_set(o, "date_updated", date(t, DATE_DATA));
	} else {
		/* sequence_subscription */
		lead = current(g, "lead", t);
		a = jt_arr();
		jt_push(a, jt_str(u->id));
		jt_set(o, "calls_assigned_to", a);
		person(g, name, sizeof(name));
		email_of(g, name, mail, sizeof(mail));
		sets(o, "contact_email", mail);
		s = activity_contact(g, lead);
		if (s->kind == JT_NULL) {
			jt_free(s);
			s = newid(g, "cont_", 43);
		}
		jt_set(o, "contact_id", s);
		sets(o, "created_by_id", u->id);
		jt_set(o, "date_created", date(t, DATE_DATA));
		jt_set(o, "date_updated", date(t, DATE_DATA));
		jt_set(o, "id", newid(g, "sub_", 22));
		sets(o, "lead_id", gets(lead, "id"));
		sets(o, "organization_id", g->org);
		jt_set(o, "sender_account_id", newid(g, "emailacct_", 43));
		sets(o, "sender_email", u->email);
		sets(o, "sender_name", u->name);
		jt_set(o, "sequence_id", newid(g, "seq_", 22));
		setnull(o, "start_date");
		sets(o, "status", "active");
		setnull(o, "status_reason");
		sets(o, "updated_by_id", u->id);
	}
	return o;
}

/* Comments, their threads, and the activity a lead merge leaves. */
static struct jt *
new_on_lead(
    struct closegen *g, const char *type, int64_t t, const struct user *u)
{
	struct jt *o = jt_obj(), *a, *s, *lead = current(g, "lead", t);

	if (strcmp(type, "comment") == 0) {
		s = text(g, (int)between(g, 3, 25));
		jt_set(o, "body", jt_strf("<body><p>%s</p></body>", s->s));
		jt_free(s);
		jt_set(o, "created_at", date(t, DATE_DATA));
		sets(o, "created_by", u->id);
		jt_set(o, "id", newid(g, "comm_", 22));
		sets(o, "lead_id", gets(lead, "id"));
		jt_set(o, "mentions", jt_arr());
		sets(o, "organization_id", g->org);
		setnull(o, "removed_at");
		setnull(o, "removed_by");
		jt_set(o, "thread_id", newid(g, "comthr_", 22));
		jt_set(o, "updated_at", date(t, DATE_DATA));
		sets(o, "updated_by", u->id);
	} else if (strcmp(type, "comment_thread") == 0) {
		jt_set(o, "created_at", date(t, DATE_DATA));
		jt_set(o, "id", newid(g, "comthr_", 22));
		sets(o, "lead_id", gets(lead, "id"));
		seti(o, "num_comments", 1);
		jt_set(o, "object_id", newid(g, "acti_", 43));
		sets(o, "object_type", PICK(g, thread_types));
		sets(o, "organization_id", g->org);
		a = jt_arr();
		jt_push(a, jt_str(u->id));
		jt_set(o, "participating", a);
		jt_set(o, "updated_at", date(t, DATE_DATA));
	} else {
		/* lead_merge: the LeadMerge activity on the lead kept. */
		sets(o, "_type", "LeadMerge");
		sets(o, "lead_id", gets(lead, "id"));
		sets(o, "user_id", u->id);
		sets(o, "user_name", u->name);
		setnull(o, "contact_id");
		jt_set(o, "id", newid(g, "acti_", 43));
		jt_set(o, "source_lead_id", newid(g, "lead_", 43));
		sets(o, "source_lead_name", PICK(g, companies));
		sets(o, "destination_lead_id", gets(lead, "id"));
		sets(o, "destination_lead_name", gets(lead, "display_name"));
		stamp(g, o, t, t, u, 0);
	}
	return o;
}

static struct jt *
new_object(
    struct closegen *g, const char *type, int64_t t, const struct user *u)
{
	struct jt *o;
	char mail[96], name[64];

	if (strcmp(type, "lead") == 0)
		return new_lead(g, t, u);
	if (strcmp(type, "contact") == 0)
		return new_contact(g, t, u);
	if (strcmp(type, "opportunity") == 0)
		return new_opportunity(g, t, u);
	if (strncmp(type, "task.", 5) == 0)
		return new_task(g, type + 5, t, u);
	if (strncmp(type, "activity.", 9) == 0)
		return new_activity(g, type + 9, t, u);
	if (is_job(type))
		return new_job(g, type, t, u);
	if (strncmp(type, "custom_fields.", 14) == 0)
		return field_def(g, type + 14, t, u);
	if (strcmp(type, "custom_activity_type") == 0 ||
	    strcmp(type, "custom_object_type") == 0)
		return new_type_def(g, type, t, u);
	if (strncmp(type, "status.", 7) == 0)
		return status_obj(g, type[7] == 'o');
	if (strcmp(type, "membership") == 0 || strcmp(type, "group") == 0 ||
	    strcmp(type, "saved_search") == 0 ||
	    strcmp(type, "phone_number") == 0)
		return new_setup(g, type, t, u);
	if (strcmp(type, "email_template") == 0 ||
	    strcmp(type, "sms_template") == 0 ||
	    strcmp(type, "sequence") == 0 ||
	    strcmp(type, "sequence_subscription") == 0)
		return new_outreach(g, type, t, u);
	if (strcmp(type, "custom_object") == 0) {
		o = jt_obj();
		sets(o, "custom_object_type_id", g->cotype);
		jt_set(o, "name",
		    jt_strf("%s #%d", PICK(g, type_names),
			(int)between(g, 1, 9999)));
		sets(o, "lead_id", gets(current(g, "lead", t), "id"));
		jt_set(o, "id", newid(g, "custobj_", 43));
		stamp(g, o, t, t, u, 1);
		add_custom(g, o, &g->cf_co, t);
		return o;
	}
	if (strcmp(type, "unsubscribed_email") == 0) {
		o = jt_obj();
		person(g, name, sizeof(name));
		email_of(g, name, mail, sizeof(mail));
		sets(o, "email", mail);
		jt_set(o, "date_created", date(t, DATE_DATA));
		sets(o, "organization_id", g->org);
		return o;
	}
	return new_on_lead(g, type, t, u);
}

/* -- changes ------------------------------------------------------------- */

/* One of n statuses other than o's. */
static const struct status *
other_status(
    struct closegen *g, const struct status *st, size_t n, const struct jt *o)
{
	const struct status *s;

	do
		s = &st[below(g, n)];
	while (strcmp(s->id, gets(o, "status_id")) == 0);
	return s;
}

static void
change_lead(struct closegen *g, struct jt *o, int64_t t)
{
	const struct status *s;
	int did = 0;

	if (chance(g, 700)) {
		s = other_status(g, g->lead_st, 5, o);
		sets(o, "status_id", s->id);
		sets(o, "status_label", s->label);
		did = 1;
	}
	if (chance(g, 500)) {
		jt_set(
		    o, "description", other_text(g, o, "description", 3, 25));
		did = 1;
	}
	if (chance(g, 400) || !did)
		change_custom(g, o, &g->cf_lead, t);
}

static void
change_opportunity(struct closegen *g, struct jt *o, int64_t t)
{
	const struct status *s = other_status(g, g->opp_st, 5, o);
	int64_t cents;

	sets(o, "status_id", s->id);
	sets(o, "status_label", s->label);
	sets(o, "status_type", s->type);
	if (strcmp(s->type, "won") == 0)
		jt_set(o, "date_won", date(t, DATE_DAY));
	else if (strcmp(s->type, "lost") == 0)
		jt_set(o, "date_lost", date(t, DATE_DAY));
	if (strcmp(s->type, "active") == 0)
		seti(o, "confidence", other_int(g, o, "confidence", 1, 9) * 10);
	else
		seti(o, "confidence", confidence_of(s->type));
	if (chance(g, 300)) {
		cents = other_int(g, o, "value", 1, 5000) * 100;
		seti(o, "value", cents);
		jt_set(o, "value_formatted", money(cents));
		seti(o, "annualized_value",
		    strcmp(gets(o, "value_period"), "monthly") == 0 ? cents * 12
								    : cents);
	}
}

static void
change_task(struct closegen *g, struct jt *o, const char *action, int64_t t)
{
	int64_t due;

	if (strcmp(action, "completed") == 0) {
		setb(o, "is_complete", 1);
		return;
	}
	if (chance(g, 500)) {
		due = t + between(g, 1, 21) * 86400000;
		jt_set(o, "date", date(due, DATE_DAY));
		jt_set(o, "due_date", date(due, DATE_DAY));
	}
	jt_set(o, "text", other_text(g, o, "text", 2, 20));
}

/* The status a meeting's lifecycle action sets, or NULL for updated. */
static const char *
meeting_status(const char *action)
{
	static const struct {
		const char *action, *status;
	} m[] = {
		{ "scheduled", "upcoming" },
		{ "started", "in-progress" },
		{ "completed", "completed" },
		{ "canceled", "canceled" },
	};
	size_t i;

	for (i = 0; i < NELEM(m); i++)
		if (strcmp(m[i].action, action) == 0)
			return m[i].status;
	return NULL;
}

static void
change_email(struct closegen *g, struct jt *o, const char *action, int64_t t)
{
	struct jt *v, *opens;

	if (strcmp(action, "sent") == 0) {
		sets(o, "status", "sent");
		jt_set(o, "date_sent", date(t, DATE_DATA));
		v = jt_arr();
		jt_push(v, jt_strf("<%s@mail.example.com>", gets(o, "id") + 5));
		jt_set(o, "message_ids", v);
		return;
	}
	/* An update of a tracked email: someone opened it. */
	opens = jt_copy(jt_get(o, "opens"));
	v = jt_obj();
	jt_set(
	    v, "ip_address", jt_strf("203.0.113.%d", (int)between(g, 1, 254)));
	jt_set(v, "opened_at", date(t, DATE_DATA));
	setnull(v, "opened_by");
	jt_push(opens, v);
	jt_set(o, "opens", opens);
}

static void
change_call(struct closegen *g, struct jt *o, const char *action)
{
	struct jt *v;

	if (strcmp(action, "answered") == 0) {
		sets(o, "disposition", "answered");
		return;
	}
	if (strcmp(action, "completed") == 0) {
		sets(o, "status", "completed");
		if (jt_get(o, "disposition")->kind == JT_NULL)
			sets(o, "disposition",
			    chance(g, 700) ? "answered" : "no-answer");
		seti(o, "duration", other_int(g, o, "duration", 5, 3600));
		if (chance(g, 300))
			jt_set(o, "recording_url",
			    jt_strf("https://app.close.com/go/call/%s/"
				    "recording/",
				gets(o, "id")));
		return;
	}
	v = other_text(g, o, "note", 3, 30);
	jt_set(o, "note_html", jt_strf("<p>%s</p>", v->s));
	jt_set(o, "note", v);
}

static void
change_activity(struct closegen *g, struct jt *o, const char *kind,
    const char *action, int64_t t)
{
	const struct status *s;
	struct jt *v;
	const char *st;
	int64_t cents;

	if (strcmp(kind, "email") == 0)
		change_email(g, o, action, t);
	else if (strcmp(kind, "email_thread") == 0)
		seti(o, "n_emails", geti(o, "n_emails") + 1);
	else if (strcmp(kind, "call") == 0)
		change_call(g, o, action);
	else if (strcmp(kind, "sms") == 0) {
		if (strcmp(action, "sent") == 0) {
			sets(o, "status", "sent");
			jt_set(o, "date_sent", date(t, DATE_DATA));
		} else
			jt_set(o, "text", other_text(g, o, "text", 3, 45));
	} else if (strcmp(kind, "whatsapp_message") == 0) {
		jt_set(o, "message_markdown",
		    other_text(g, o, "message_markdown", 2, 30));
	} else if (strcmp(kind, "note") == 0) {
		v = other_text(g, o, "note", 5, 60);
		jt_set(o, "note_html", html_of(v));
		jt_set(o, "note", v);
	} else if (strcmp(kind, "meeting") == 0) {
		if ((st = meeting_status(action)) != NULL) {
			sets(o, "status", st);
			return;
		}
		sets(o, "title",
		    other(
			g, meeting_titles, NELEM(meeting_titles), o, "title"));
		if (chance(g, 500))
			sets(o, "location",
			    other(
				g, locations, NELEM(locations), o, "location"));
	} else if (strcmp(kind, "form_submission") == 0) {
		sets(o, "status",
		    other(g, form_statuses, NELEM(form_statuses), o, "status"));
	} else if (strcmp(kind, "lead_status_change") == 0) {
		do
			s = &g->lead_st[below(g, 5)];
		while (strcmp(s->id, gets(o, "new_status_id")) == 0 ||
		    strcmp(s->id, gets(o, "old_status_id")) == 0);
		sets(o, "new_status_id", s->id);
		sets(o, "new_status_label", s->label);
	} else if (strcmp(kind, "opportunity_status_change") == 0) {
		cents = other_int(g, o, "opportunity_value", 1, 5000) * 100;
		seti(o, "opportunity_value", cents);
		jt_set(o, "opportunity_value_formatted", money(cents));
	} else if (g->cf_acti.n > 0 && chance(g, 600)) {
		change_custom(g, o, &g->cf_acti, t);
	} else {
		sets(o, "status",
		    strcmp(gets(o, "status"), "draft") == 0 ? "published"
							    : "draft");
	}
}

/* Jobs (imports, exports, bulk actions) move through their statuses. */
static void
change_job(
    struct closegen *g, struct jt *o, const char *type, const char *action)
{
	int imp = strcmp(type, "import") == 0;
	int64_t total;

	if (strcmp(action, "updated") == 0) {
		sets(o, "status", "in_progress");
		if (imp) {
			total = geti(o, "total_leads");
			seti(o, "new_leads",
			    other_int(g, o, "new_leads", 1, total));
		} else if (jt_get(o, "n_objects_total") != NULL) {
			total = geti(o, "n_objects_total");
			seti(o, "n_objects_processed",
			    other_int(g, o, "n_objects_processed", 1, total));
		}
		return;
	}
	if (strcmp(action, "completed") == 0) {
		sets(o, "status", imp ? "completed" : "done");
		if (imp) {
			total = geti(o, "total_leads");
			seti(o, "new_leads", total - total / 10);
			seti(o, "updated_leads", total / 10);
		} else if (jt_get(o, "n_objects_total") != NULL)
			seti(o, "n_objects_processed",
			    geti(o, "n_objects_total"));
		else {
			seti(o, "n_docs", between(g, 1, 90000));
			jt_set(o, "download_url",
			    jt_strf("https://app.close.com/go/export/%s/",
				gets(o, "id")));
		}
		return;
	}
	/* paused, reverting, reverted */
	sets(o, "status", action);
}

static void
change_other(struct closegen *g, struct jt *o, const char *type, int64_t t)
{
	struct jt *v, *a;

	if (strcmp(type, "custom_activity_type") == 0) {
		sets(o, "name",
		    other(g, activity_type_names, NELEM(activity_type_names), o,
			"name"));
	} else if (strcmp(type, "custom_object_type") == 0) {
		sets(o, "name",
		    other(g, type_names, NELEM(type_names), o, "name"));
		jt_set(o, "name_plural", jt_strf("%ss", gets(o, "name")));
	} else if (strncmp(type, "custom_fields.", 14) == 0) {
		sets(o, "name", other(g, cf_names, NELEM(cf_names), o, "name"));
		if (chance(g, 500))
			jt_set(o, "description",
			    other_text(g, o, "description", 3, 12));
	} else if (strcmp(type, "custom_object") == 0) {
		if (chance(g, 500))
			change_custom(g, o, &g->cf_co, t);
		else
			jt_set(o, "name",
			    jt_strf("%s #%d", PICK(g, type_names),
				(int)between(g, 10000, 99999)));
	} else if (strncmp(type, "status.", 7) == 0) {
		v = other_text(g, o, "label", 1, 2);
		/* A status label is a short name, without the full stop. */
		while (v->n > 0 && strchr(".!?", v->s[v->n - 1]) != NULL)
			v->s[--v->n] = '\0';
		jt_set(o, "label", v);
	} else if (strcmp(type, "group") == 0) {
		sets(o, "name",
		    other(g, group_names, NELEM(group_names), o, "name"));
	} else if (strcmp(type, "saved_search") == 0) {
		sets(o, "name",
		    other(g, view_names, NELEM(view_names), o, "name"));
	} else if (strcmp(type, "phone_number") == 0) {
		sets(o, "label",
		    other(g, phone_labels, NELEM(phone_labels), o, "label"));
	} else if (strcmp(type, "email_template") == 0) {
		v = text(g, (int)between(g, 10, 40));
		jt_set(o, "body",
		    jt_strf(
			"<p>Hi {{ contact.first_name }},</p><p>%s</p>", v->s));
		jt_free(v);
	} else if (strcmp(type, "sms_template") == 0) {
		jt_set(o, "text", other_text(g, o, "text", 5, 25));
	} else if (strcmp(type, "sequence") == 0) {
		sets(o, "name",
		    other(g, sequence_names, NELEM(sequence_names), o, "name"));
	} else if (strcmp(type, "sequence_subscription") == 0) {
		sets(o, "status",
		    other(g, subscription_statuses,
			NELEM(subscription_statuses), o, "status"));
		if (strcmp(gets(o, "status"), "active") == 0)
			setnull(o, "status_reason");
		else if (strcmp(gets(o, "status"), "paused") == 0)
			sets(o, "status_reason", "manual");
		else
			sets(o, "status_reason", "replied");
	} else if (strcmp(type, "comment") == 0) {
		v = other_text(g, o, "body", 3, 25);
		jt_set(o, "body", jt_strf("<body><p>%s</p></body>", v->s));
		jt_free(v);
	} else if (strcmp(type, "comment_thread") == 0) {
		seti(o, "num_comments", geti(o, "num_comments") + 1);
		a = jt_copy(jt_get(o, "participating"));
		jt_push(a, jt_str(any_user(g)->id));
		jt_set(o, "participating", a);
	} else {
		/* lead_merge */
		sets(o, "destination_lead_name",
		    other(g, companies, NELEM(companies), o,
			"destination_lead_name"));
	}
}

/*
 * The object after an update-like action: a copy of old with the change
 * and the stamps Close puts on every change.  A change the system made
 * (no user) leaves the updated_by fields alone.
 */
static struct jt *
change(struct closegen *g, const char *type, const char *action,
    const struct jt *old, int64_t t, const struct user *u, int system)
{
	struct jt *o = jt_copy(old);

	if (strcmp(type, "lead") == 0)
		change_lead(g, o, t);
	else if (strcmp(type, "contact") == 0)
		sets(o, "title", other(g, titles, NELEM(titles), o, "title"));
	else if (strcmp(type, "opportunity") == 0)
		change_opportunity(g, o, t);
	else if (strncmp(type, "task.", 5) == 0)
		change_task(g, o, action, t);
	else if (strncmp(type, "activity.", 9) == 0)
		change_activity(g, o, type + 9, action, t);
	else if (is_job(type))
		change_job(g, o, type, action);
	else
		change_other(g, o, type, t);
	if (jt_get(o, "date_updated") != NULL)
		jt_set(o, "date_updated", date(t, DATE_DATA));
	if (jt_get(o, "updated_at") != NULL)
		jt_set(o, "updated_at", date(t, DATE_DATA));
	if (!system) {
		if (jt_get(o, "updated_by") != NULL)
			sets(o, "updated_by", u->id);
		if (jt_get(o, "updated_by_name") != NULL)
			sets(o, "updated_by_name", u->name);
		if (jt_get(o, "updated_by_id") != NULL)
			sets(o, "updated_by_id", u->id);
	}
	return o;
}

static int
keycmp(const void *a, const void *b)
{
	const struct jt *x = *(const struct jt *const *)a;
	const struct jt *y = *(const struct jt *const *)b;
	int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);

	return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

/*
 * changed_fields (sorted, as in Close's example) and previous_data (each
 * changed field's old value, null where old had none).
 */
static struct jt *
diff(const struct jt *old, const struct jt *new, struct jt **prev)
{
	struct jt *changed = jt_arr(), *ov;
	size_t i;

	for (i = 0; i < new->len; i++) {
		ov = jt_getn(old, new->mem[i].key, new->mem[i].keyn);
		if (ov == NULL || !jt_equal(ov, new->mem[i].val))
			jt_push(changed,
			    jt_strn(new->mem[i].key, new->mem[i].keyn));
	}
	qsort(changed->elem, changed->len, sizeof(*changed->elem), keycmp);
	*prev = jt_obj();
	for (i = 0; i < changed->len; i++) {
		ov = jt_getn(old, changed->elem[i]->s, changed->elem[i]->n);
		jt_setn(*prev, changed->elem[i]->s, changed->elem[i]->n,
		    ov != NULL ? jt_copy(ov) : jt_null());
	}
	return changed;
}

/*
 * Whether the object of type ti can take an action: a step of a lifecycle
 * (sent, completed, paused, ...) is taken once, and only a draft going
 * out is sent.
 */
static int
fits(struct closegen *g, size_t ti, const char *action, const struct jt *o)
{
	const char *dir = gets(o, "direction");

	if (strcmp(action, "updated") != 0 && strcmp(action, "merged") != 0 &&
	    g->last[ti] != NULL && strcmp(g->last[ti], action) == 0)
		return 0;
	if (strcmp(action, "sent") == 0)
		return (strcmp(dir, "outgoing") == 0 ||
			   strcmp(dir, "outbound") == 0) &&
		    strcmp(gets(o, "status"), "sent") != 0;
	return 1;
}

/* Whether a change is more than the stamps every change gets (a task
 * completed twice changes nothing the second time). */
static int
real_change(const struct jt *changed)
{
	static const char *const stamps[] = { "date_updated", "updated_at",
		"updated_by", "updated_by_name", "updated_by_id" };
	size_t i, j;

	for (i = 0; i < changed->len; i++) {
		for (j = 0; j < NELEM(stamps); j++)
			if (strcmp(changed->elem[i]->s, stamps[j]) == 0)
				break;
		if (j == NELEM(stamps))
			return 1;
	}
	return 0;
}

enum closegen_kind
closegen_kind(const char *action)
{
	if (strcmp(action, "created") == 0 || strcmp(action, "activated") == 0)
		return CLOSEGEN_CREATE;
	if (strcmp(action, "deleted") == 0 ||
	    strcmp(action, "deactivated") == 0)
		return CLOSEGEN_DELETE;
	return CLOSEGEN_UPDATE;
}

/*
 * Whether Close itself made the change, not a user through the app or the
 * API: delivery and telephony outcomes, calendar sync, finished jobs,
 * tasks Close opens for incoming mail and calls; otherwise now and then
 * (integrations, automations).  Such events have no user_id, request_id
 * or request in meta.
 */
static int
by_system(struct closegen *g, const char *type, const char *action)
{
	static const char *const sys[] = { "sent", "answered", "started",
		"reverted", "scheduled", "canceled" };
	size_t i;

	for (i = 0; i < NELEM(sys); i++)
		if (strcmp(action, sys[i]) == 0)
			return 1;
	if (strcmp(action, "completed") == 0)
		return strncmp(type, "task.", 5) != 0;
	if (strcmp(action, "created") == 0 && strncmp(type, "task.", 5) == 0)
		return strcmp(type, "task.lead") != 0;
	return chance(g, 120);
}

/* The API resource a type lives under, for meta.request_path. */
static void
resource(const char *type, char *out, size_t cap)
{
	static const struct {
		const char *prefix, *path;
	} r[] = {
		{ "task.", "task" },
		{ "custom_fields.", "custom_field/" },
		{ "custom_activity_type", "custom_activity" },
		{ "lead_merge", "lead/merge" },
		{ "activity.", "activity/" },
		{ "status.", "status/" },
		{ "export.", "export/" },
		{ "bulk_action.", "bulk_action/" },
	};
	size_t i, n, pn;

	for (i = 0; i < NELEM(r); i++) {
		n = strlen(r[i].prefix);
		pn = strlen(r[i].path);
		if (strncmp(type, r[i].prefix, n) == 0) {
			/* A path ending in / takes the rest of the type. */
			snprintf(out, cap, "%s%s", r[i].path,
			    r[i].path[pn - 1] == '/' ? type + n : "");
			return;
		}
	}
	snprintf(out, cap, "%s", type);
}

static struct jt *
meta(const char *method, const char *res, const char *id)
{
	struct jt *m = jt_obj();

	sets(m, "request_method", method);
	if (id != NULL)
		jt_set(m, "request_path", jt_strf("/api/v1/%s/%s/", res, id));
	else
		jt_set(m, "request_path", jt_strf("/api/v1/%s/", res));
	return m;
}

struct jt *
closegen_event(struct closegen *g, size_t ti, const char *action,
    const char *sub, int64_t *t_ms)
{
	const char *type = closeevents[ti].type, *id;
	enum closegen_kind kind = closegen_kind(action);
	struct jt *ev, *pl, *data, *prev = NULL, *changed = NULL, *m, *obj;
	const struct user *u;
	char res[64];
	int64_t t;
	int sys, tries;

	g->now_ms += between(g, 300, 3000);
	t = g->now_ms;
	*t_ms = t;
	sys = by_system(g, type, action);
	u = any_user(g);
	resource(type, res, sizeof(res));
	if (kind == CLOSEGEN_CREATE) {
		data = new_object(g, type, t - between(g, 3, 30), u);
		jt_free(g->pool[ti]);
		g->pool[ti] = jt_copy(data);
		g->last[ti] = NULL;
		m = meta("POST", res, NULL);
		obj = data;
	} else if (kind == CLOSEGEN_DELETE) {
		prev = current(g, type, t);
		g->pool[ti] = NULL;
		g->last[ti] = NULL;
		data = jt_null();
		m = meta("DELETE", res, gets(prev, "id"));
		obj = prev;
	} else {
		obj = current(g, type, t);
		for (tries = 0;; tries++) {
			if (fits(g, ti, action, obj) || tries >= 64) {
				data = change(g, type, action, obj, t, u, sys);
				changed = diff(obj, data, &prev);
				if (real_change(changed) || tries >= 64)
					break;
				jt_free(data);
				jt_free(changed);
				jt_free(prev);
			}
			/* The object remembered cannot take the action (a
			 * sent email is not sent again): one made before the
			 * stream began can. */
			jt_free(g->pool[ti]);
			g->pool[ti] = NULL;
			obj = current(g, type, t);
		}
		jt_free(g->pool[ti]);
		g->pool[ti] = jt_copy(data);
		g->last[ti] = action;
		if (strcmp(action, "merged") == 0) {
			m = meta("POST", "lead/merge", NULL);
			jt_set(
			    m, "merge_source_lead_id", newid(g, "lead_", 43));
			sets(m, "merge_destination_lead_id", gets(data, "id"));
		} else
			m = meta("PUT", res, gets(data, "id"));
		obj = data;
	}
	if (sys) {
		jt_free(m);
		m = jt_obj();
		if (chance(g, 150))
			jt_set(m, "bulk_action_id", newid(g, "bulk_", 43));
	}

	/* The key order of Close's own example. */
	ev = jt_obj();
	jt_set(ev, "date_created", date(t, DATE_EVENT));
	jt_set(ev, "meta", m);
	jt_set(ev, "id", newid(g, "ev_", 22));
	sets(ev, "action", action);
	jt_set(ev, "date_updated", date(t, DATE_EVENT));
	if (changed != NULL)
		jt_set(ev, "changed_fields", changed);
	id = gets(obj, "id");
	/* previous_data: the old values on update, the object on delete;
	 * obj stays valid, it is data or previous_data. */
	if (prev != NULL)
		jt_set(ev, "previous_data", prev);
	sets(ev, "organization_id", g->org);
	jt_set(ev, "data", data);
	jt_set(ev, "user_id", sys ? jt_null() : jt_str(u->id));
	jt_set(ev, "request_id", sys ? jt_null() : newid(g, "req_", 22));
	if (!sys && chance(g, 500))
		jt_set(ev, "api_key_id",
		    chance(g, 500) ? jt_str(g->api_keys[below(g, 2)])
				   : jt_null());
	jt_set(ev, "object_id", *id != '\0' ? jt_str(id) : jt_null());
	if (strcmp(type, "lead") == 0)
		sets(ev, "lead_id", id);
	else if (*gets(obj, "lead_id") != '\0')
		sets(ev, "lead_id", gets(obj, "lead_id"));
	else
		setnull(ev, "lead_id");
	sets(ev, "object_type", type);

	pl = jt_obj();
	jt_set(pl, "event", ev);
	sets(pl, "subscription_id", sub);
	return pl;
}

/* -- the organisation ---------------------------------------------------- */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* n custom fields with names unique within the set. */
static void
cfset_init(struct closegen *g, struct cfset *cs, size_t n)
{
	size_t i, j;

	cs->n = n;
	for (i = 0; i < n; i++) {
		closegen_id(g, "cf_", 43, cs->f[i].id);
		cs->f[i].kind = (enum cf_kind)below(g, CF_KINDS);
		do {
			cs->f[i].name = PICK(g, cf_names);
			for (j = 0; j < i; j++)
				if (strcmp(cs->f[j].name, cs->f[i].name) == 0)
					break;
		} while (j < i);
	}
}

struct closegen *
closegen_new(uint64_t seed, int64_t start_ms)
{
	struct closegen *g = calloc(1, sizeof(*g));
	size_t i;

	if (g == NULL ||
	    (g->pool = calloc(closeevents_n, sizeof(*g->pool))) == NULL ||
	    (g->last = calloc(closeevents_n, sizeof(*g->last))) == NULL)
		cli_fatalx("out of memory");
	for (i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
	g->now_ms = start_ms;
	closegen_id(g, "orga_", 43, g->org);
	for (i = 0; i < NUSERS; i++) {
		closegen_id(g, "user_", 43, g->users[i].id);
		person(g, g->users[i].name, sizeof(g->users[i].name));
		email_of(g, g->users[i].name, g->users[i].email,
		    sizeof(g->users[i].email));
	}
	for (i = 0; i < 5; i++) {
		closegen_id(g, "stat_", 43, g->lead_st[i].id);
		g->lead_st[i].label = lead_labels[i];
		closegen_id(g, "stat_", 43, g->opp_st[i].id);
		g->opp_st[i].label = opp_statuses[i].label;
		g->opp_st[i].type = opp_statuses[i].type;
	}
	closegen_id(g, "pipe_", 22, g->pipeline);
	cfset_init(g, &g->cf_lead, 3);
	cfset_init(g, &g->cf_contact, 1);
	cfset_init(g, &g->cf_opp, 2);
	cfset_init(g, &g->cf_acti, 2);
	cfset_init(g, &g->cf_co, 2);
	closegen_id(g, "actitype_", 22, g->actitype);
	closegen_id(g, "cotype_", 22, g->cotype);
	for (i = 0; i < 2; i++)
		closegen_id(g, "api_", 22, g->api_keys[i]);
	return g;
}

void
closegen_free(struct closegen *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < closeevents_n; i++)
		jt_free(g->pool[i]);
	free(g->pool);
	free(g->last);
	jt_buf_free(&g->tmp);
	free(g);
}
