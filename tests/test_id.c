/* SPDX-License-Identifier: MIT */
/*
 * tests/test_id.c - object IDs (shoal/id.h): derivation and its fields,
 * random IDs, the text form and its parser, the nil ID.
 */
#include "testutil.h"

#include <ctype.h>

TestSuite(id, .init = tu_setup, .fini = tu_teardown);

static int cmp_id(const void *a, const void *b)
{
	const shoal_id *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

struct derive_case {
	uint16_t node;
	uint32_t owner;
	uint64_t counter;
	uint16_t index;
};

static const struct derive_case derive_cases[] = {
	{0, 1, 1, 0},
	{0, 0x00010002u, 42, 7},
	{1, 0xffffffffu, UINT64_MAX, 0xffff},
	{0xffff, 0, 1, 1},
	{0x1234, 0xdeadbeefu, 0x0123456789abcdefull, 0xabcd},
	{0x8000, 0x80000000u, 0x8000000000000000ull, 0x8000},
};

/* id.h fixes the layout: hi = node(63..48) | index(47..32) | owner(31..0),
 * lo = counter; the accessors read node and index back. */
Test(id, derive_fields_round_trip)
{
	for (size_t i = 0; i < sizeof(derive_cases) / sizeof(derive_cases[0]);
	     i++) {
		const struct derive_case *c = &derive_cases[i];
		shoal_id id = shoal_id_derive(c->node, c->owner, c->counter,
					      c->index);

		cr_assert_eq(shoal_id_node(id), c->node, "case %zu node", i);
		cr_assert_eq(shoal_id_index(id), c->index, "case %zu index", i);
		cr_assert_eq((uint32_t)id.hi, c->owner, "case %zu owner", i);
		cr_assert_eq(id.lo, c->counter, "case %zu counter", i);
		cr_assert_eq(id.hi, ((uint64_t)c->node << 48) |
					    ((uint64_t)c->index << 32) |
					    c->owner,
			     "case %zu hi", i);
		cr_assert_not(shoal_id_is_nil(id), "case %zu is nil", i);
	}
}

Test(id, derive_each_field_makes_ids_distinct)
{
	shoal_id base = shoal_id_derive(0, 5, 9, 2);
	shoal_id other[] = {
		shoal_id_derive(1, 5, 9, 2), /* node */
		shoal_id_derive(0, 6, 9, 2), /* owner */
		shoal_id_derive(0, 5, 10, 2), /* counter */
		shoal_id_derive(0, 5, 9, 3), /* index */
	};

	cr_assert(shoal_id_eq(base, shoal_id_derive(0, 5, 9, 2)),
		  "derive is not deterministic");
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		cr_assert_not(shoal_id_eq(base, other[i]), "field %zu ignored",
			      i);
}

Test(id, random_ids_differ_and_have_node_0)
{
	enum { N = 256 };
	shoal_id ids[N];
	uint64_t hi_or = 0, lo_or = 0;

	for (int i = 0; i < N; i++) {
		memset(&ids[i], 0xff, sizeof(ids[i]));
		tu_assert_rc(shoal_id_random(&ids[i]), 0);
		cr_assert_eq(shoal_id_node(ids[i]), 0, "random id %d: node %u",
			     i, shoal_id_node(ids[i]));
		cr_assert_not(shoal_id_is_nil(ids[i]));
		hi_or |= ids[i].hi;
		lo_or |= ids[i].lo;
	}
	qsort(ids, N, sizeof(ids[0]), cmp_id);
	for (int i = 1; i < N; i++)
		cr_assert_not(shoal_id_eq(ids[i - 1], ids[i]),
			      "two random ids are equal");
	/* 112 random bits: over 256 IDs every one of them was set somewhere
	 * (a bit that never is would be a 2^-256 event). */
	cr_assert_eq(hi_or, UINT64_C(0x0000ffffffffffff), "hi bits: %#" PRIx64,
		     hi_or);
	cr_assert_eq(lo_or, UINT64_MAX, "lo bits: %#" PRIx64, lo_or);
}

Test(id, format_is_32_lowercase_hex_hi_first)
{
	for (size_t i = 0; i < sizeof(derive_cases) / sizeof(derive_cases[0]);
	     i++) {
		const struct derive_case *c = &derive_cases[i];
		shoal_id id = shoal_id_derive(c->node, c->owner, c->counter,
					      c->index);
		char buf[SHOAL_ID_HEX_LEN + 8], want[SHOAL_ID_HEX_LEN + 8];

		memset(buf, '#', sizeof(buf));
		shoal_id_format(id, buf);
		snprintf(want, sizeof(want), "%016" PRIx64 "%016" PRIx64,
			 id.hi, id.lo);
		cr_assert_str_eq(buf, want);
		cr_assert_eq(buf[SHOAL_ID_HEX_LEN], '\0');
		cr_assert_eq(buf[SHOAL_ID_HEX_LEN + 1], '#',
			     "format wrote past the NUL");
	}
}

Test(id, format_parse_round_trip)
{
	for (int i = 0; i < 64; i++) {
		shoal_id id, back;
		char buf[SHOAL_ID_HEX_LEN + 1];

		if (i < 6)
			id = shoal_id_derive(derive_cases[i].node,
					     derive_cases[i].owner,
					     derive_cases[i].counter,
					     derive_cases[i].index);
		else
			tu_assert_rc(shoal_id_random(&id), 0);
		shoal_id_format(id, buf);
		memset(&back, 0, sizeof(back));
		tu_assert_rc(shoal_id_parse(buf, &back), 0);
		cr_assert(shoal_id_eq(id, back), "round trip of %s", buf);

		/* either case */
		for (char *p = buf; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		memset(&back, 0, sizeof(back));
		tu_assert_rc(shoal_id_parse(buf, &back), 0);
		cr_assert(shoal_id_eq(id, back), "upper-case %s", buf);
	}
}

Test(id, parse_rejects_bad_input)
{
	const char good[] = "0123456789abcdef0123456789ABCDEF";
	char buf[80];
	shoal_id out;
	static const char *bad[] = {
		"",
		"0",
		"0123456789abcdef0123456789abcde",   /* 31 digits */
		"0123456789abcdef0123456789abcdef0", /* 33 digits */
		"0123456789abcdef0123456789abcdef "  /* trailing space */,
		" 0123456789abcdef0123456789abcdef",
		"0x23456789abcdef0123456789abcdef",
		"0123456789abcdef-123456789abcdef",
		"0123456789abcdef0123456789abcdeg",
		"g123456789abcdef0123456789abcdef",
		"0123456789abcdef 123456789abcdef",
		"0123456789abcdef\n123456789abcdef",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab",
	};

	tu_assert_rc(shoal_id_parse(good, &out), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(shoal_id_parse(bad[i], &out), -EINVAL,
			     "accepted \"%s\"", bad[i]);

	/* a non-hex character at every position */
	for (int pos = 0; pos < SHOAL_ID_HEX_LEN; pos++) {
		static const char junk[] = {'g', 'G', 'z', ':', '/', '@', '`',
					    '.'};

		strcpy(buf, good);
		buf[pos] = junk[pos % sizeof(junk)];
		cr_assert_eq(shoal_id_parse(buf, &out), -EINVAL,
			     "accepted \"%s\"", buf);
		/* a NUL inside: too short */
		strcpy(buf, good);
		buf[pos] = '\0';
		cr_assert_eq(shoal_id_parse(buf, &out), -EINVAL,
			     "accepted %d digits", pos);
	}
}

Test(id, nil)
{
	shoal_id nil = SHOAL_ID_NIL;
	shoal_id one = {0, 1}, top = {1ull << 63, 0};
	char buf[SHOAL_ID_HEX_LEN + 1];
	shoal_id back = {7, 7};

	cr_assert(shoal_id_is_nil(nil));
	cr_assert_eq(nil.hi, 0);
	cr_assert_eq(nil.lo, 0);
	cr_assert_not(shoal_id_is_nil(one));
	cr_assert_not(shoal_id_is_nil(top));
	cr_assert(shoal_id_eq(nil, SHOAL_ID_NIL));
	cr_assert_not(shoal_id_eq(nil, one));
	cr_assert_not(shoal_id_eq(one, top));

	shoal_id_format(nil, buf);
	cr_assert_str_eq(buf, "00000000000000000000000000000000");
	/* id.h: the parser takes exactly 32 hex digits; the nil ID's text is
	 * such a string, so it parses (to nil: the store, not the parser,
	 * refuses it). */
	tu_assert_rc(shoal_id_parse(buf, &back), 0);
	cr_assert(shoal_id_is_nil(back));
}
