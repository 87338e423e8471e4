/**
 * The demo's sample data: a small schema `tickit` in the spirit of Redshift's TICKIT sample (users,
 * venues, categories, dates, events, listings, sales), generated deterministically in SQL with
 * generate_series and integer arithmetic (no random(), no download), so every run holds the same rows.
 */
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';

/** The query the demo suggests first: the five events that sold the most tickets. */
export const sampleFirstQuery =
  'SELECT e.eventname, sum(s.qtysold) AS tickets FROM tickit.sales s JOIN tickit.event e ON e.eventid = s.eventid GROUP BY e.eventname ORDER BY tickets DESC, e.eventname LIMIT 5';

/** Row counts of the generated tables (the demo test checks a few of them). */
export const sampleRowCounts = { users: 2000, venue: 60, category: 11, date: 365, event: 800, listing: 3000, sales: 6000 } as const;

const n = sampleRowCounts;

/**
 * SQL that creates and fills the schema in one go; run it only when `sampleSeededSql` says the schema is
 * missing (it is not itself re-runnable). `readerRole` gets USAGE and SELECT (the demo's base database
 * user, which the emulator makes every login role of that user a member of).
 */
export function sampleSchemaSql(readerRole: string): string {
  const reader = `"${readerRole.replaceAll('"', '""')}"`;
  return `
CREATE SCHEMA tickit;
CREATE TABLE tickit.category (catid smallint PRIMARY KEY, catgroup text NOT NULL, catname text NOT NULL, catdesc text NOT NULL);
INSERT INTO tickit.category VALUES
  (1, 'Sports', 'MLB', 'Major League Baseball'), (2, 'Sports', 'NHL', 'National Hockey League'),
  (3, 'Sports', 'NFL', 'National Football League'), (4, 'Sports', 'NBA', 'National Basketball Association'),
  (5, 'Sports', 'MLS', 'Major League Soccer'), (6, 'Shows', 'Musicals', 'Musical theatre'),
  (7, 'Shows', 'Plays', 'All non-musical theatre'), (8, 'Shows', 'Opera', 'All opera and light opera'),
  (9, 'Concerts', 'Pop', 'All rock and pop music concerts'), (10, 'Concerts', 'Jazz', 'All jazz singers and bands'),
  (11, 'Concerts', 'Classical', 'All symphony, concerto, and choir concerts');
CREATE TABLE tickit.venue (venueid smallint PRIMARY KEY, venuename text NOT NULL, venuecity text NOT NULL, venuestate char(2) NOT NULL, venueseats integer NOT NULL);
INSERT INTO tickit.venue
  SELECT i, (ARRAY['Grand','Civic','Memorial','Harbor','Union','Summit'])[1 + i % 6] || ' ' || (ARRAY['Arena','Hall','Stadium','Theatre','Center'])[1 + i % 5] || ' ' || i,
         (ARRAY['Seattle','Boston','Austin','Denver','Chicago','Miami','Portland','Atlanta','Phoenix','Detroit'])[1 + i % 10],
         (ARRAY['WA','MA','TX','CO','IL','FL','OR','GA','AZ','MI'])[1 + i % 10],
         1000 * (5 + (i * 37) % 60)
  FROM generate_series(1, ${n.venue}) AS i;
CREATE TABLE tickit.date (dateid smallint PRIMARY KEY, caldate date NOT NULL, day char(3) NOT NULL, week smallint NOT NULL, month char(5) NOT NULL, qtr char(5) NOT NULL, year smallint NOT NULL, holiday boolean NOT NULL);
INSERT INTO tickit.date
  SELECT i, d, to_char(d, 'Dy'), extract(week FROM d)::smallint, to_char(d, 'Mon'), 'Q' || extract(quarter FROM d), 2008, to_char(d, 'MM-DD') IN ('01-01', '07-04', '12-25')
  FROM generate_series(1, ${n.date}) AS i, LATERAL (SELECT DATE '2008-01-01' + (i - 1) AS d) AS x;
CREATE TABLE tickit.users (userid integer PRIMARY KEY, username char(8) NOT NULL, firstname text NOT NULL, lastname text NOT NULL, city text NOT NULL, state char(2) NOT NULL, email text NOT NULL, likesports boolean NOT NULL, likeconcerts boolean NOT NULL, liketheatre boolean NOT NULL);
INSERT INTO tickit.users
  SELECT i, 'USR' || lpad(i::text, 5, '0'), f, l, (ARRAY['Seattle','Boston','Austin','Denver','Chicago','Miami','Portland','Atlanta','Phoenix','Detroit'])[1 + (i * 7) % 10],
         (ARRAY['WA','MA','TX','CO','IL','FL','OR','GA','AZ','MI'])[1 + (i * 7) % 10], lower(f || '.' || l || i) || '@example.com',
         i % 2 = 0, i % 3 = 0, i % 5 < 2
  FROM generate_series(1, ${n.users}) AS i,
       LATERAL (SELECT (ARRAY['Ada','Ben','Cleo','Dan','Eve','Finn','Gia','Hal','Ivy','Jon','Kai','Lea'])[1 + (i * 5) % 12] AS f,
                       (ARRAY['Smith','Jones','Garcia','Chen','Novak','Okafor','Silva','Tanaka','Muller','Rossi'])[1 + (i * 3) % 10] AS l) AS names;
CREATE TABLE tickit.event (eventid integer PRIMARY KEY, venueid smallint NOT NULL REFERENCES tickit.venue, catid smallint NOT NULL REFERENCES tickit.category, dateid smallint NOT NULL REFERENCES tickit.date, eventname text NOT NULL, starttime timestamp NOT NULL);
INSERT INTO tickit.event
  SELECT i, v, c, dt, (ARRAY['Opening Night','Finals','Gala','Classic','Live','Revival','Showcase','Tour'])[1 + (i * 11) % 8] || ' ' || (SELECT catname FROM tickit.category WHERE catid = c) || ' #' || i,
         (SELECT caldate FROM tickit.date WHERE dateid = dt) + make_interval(hours => 14 + i % 8)
  FROM generate_series(1, ${n.event}) AS i,
       LATERAL (SELECT (1 + (i * 13) % ${n.venue})::smallint AS v, (1 + (i * 7) % ${n.category})::smallint AS c, (1 + (i * 29) % ${n.date})::smallint AS dt) AS k;
CREATE TABLE tickit.listing (listid integer PRIMARY KEY, sellerid integer NOT NULL REFERENCES tickit.users, eventid integer NOT NULL REFERENCES tickit.event, dateid smallint NOT NULL REFERENCES tickit.date, numtickets smallint NOT NULL, priceperticket numeric(8,2) NOT NULL, listtime timestamp NOT NULL);
-- The product of two spread-out indexes makes a few events popular, as in real ticket sales.
INSERT INTO tickit.listing
  SELECT i, 1 + (i * 17) % ${n.users}, 1 + ((i * 31) % ${n.event}) * ((i * 17) % ${n.event}) / ${n.event}, 1 + (i * 23) % ${n.date}, 1 + (i * 7) % 10, 20 + (i * 53) % 480 + ((i * 3) % 100) / 100.0,
         TIMESTAMP '2008-01-01 00:00' + make_interval(hours => (i * 37) % 8760)
  FROM generate_series(1, ${n.listing}) AS i;
CREATE TABLE tickit.sales (salesid integer PRIMARY KEY, listid integer NOT NULL REFERENCES tickit.listing, sellerid integer NOT NULL REFERENCES tickit.users, buyerid integer NOT NULL REFERENCES tickit.users, eventid integer NOT NULL REFERENCES tickit.event, dateid smallint NOT NULL REFERENCES tickit.date, qtysold smallint NOT NULL, pricepaid numeric(8,2) NOT NULL, commission numeric(8,2) NOT NULL, saletime timestamp NOT NULL);
INSERT INTO tickit.sales
  SELECT i, l.listid, l.sellerid, 1 + (i * 41) % ${n.users}, l.eventid, l.dateid, q, q * l.priceperticket, round(q * l.priceperticket * 0.15, 2), l.listtime + make_interval(hours => 1 + i % 240)
  FROM generate_series(1, ${n.sales}) AS i
  JOIN tickit.listing AS l ON l.listid = 1 + (i * 7) % ${n.listing},
  LATERAL (SELECT (1 + (i * 3) % l.numtickets)::smallint AS q) AS qs;
GRANT USAGE ON SCHEMA tickit TO ${reader};
GRANT SELECT ON ALL TABLES IN SCHEMA tickit TO ${reader};
`;
}

/** A query answering one row `seeded` (boolean): whether the sample schema is already there. */
export const sampleSeededSql = `SELECT to_regclass('tickit.sales') IS NOT NULL AS seeded`;

/** Creates `readerRole` (NOLOGIN) when it does not exist, so the grants have a grantee before the first login. */
export function sampleReaderRoleSql(readerRole: string): string {
  const literal = `'${readerRole.replaceAll("'", "''")}'`;
  const ident = `"${readerRole.replaceAll('"', '""')}"`;
  return `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal}) THEN CREATE ROLE ${ident} NOLOGIN; END IF; END $$;`;
}

/** Runs one SQL string (several statements, no parameters) and returns the rows of its last result. */
export type SqlRunner = (sql: string) => Promise<Array<Record<string, unknown>>>;

/**
 * Creates the sample schema unless it is there (one implicit transaction: a failed seed leaves nothing
 * behind). Returns true when it created it. Idempotent: a cached data directory or an already seeded
 * PostgreSQL is left as it is.
 */
export async function ensureSampleData(run: SqlRunner, readerRole: string): Promise<boolean> {
  const [row] = await run(sampleSeededSql);
  if (row?.['seeded'] === true) return false;
  await run(`${sampleReaderRoleSql(readerRole)}\n${sampleSchemaSql(readerRole)}`);
  return true;
}

/** ensureSampleData over one `pg` connection (the demo's admin URL of the upstream). */
export async function seedSampleDataOver(admin: { connectionString: string; ssl?: ConnectionOptions }, readerRole: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: admin.connectionString, ...(admin.ssl === undefined ? {} : { ssl: admin.ssl }) });
  client.on('error', () => {});
  await client.connect();
  try {
    return await ensureSampleData(async (sql) => {
      const res = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      return (last?.rows ?? []) as Array<Record<string, unknown>>;
    }, readerRole);
  } finally {
    await client.end().catch(() => {});
  }
}
