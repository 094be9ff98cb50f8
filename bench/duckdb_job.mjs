// duckdb_job.mjs DATA_DIR OUT.duckdb THREADS — encore's end-to-end job done by DuckDB,
// the peer in `make bench-compare` (bench/compare.sh). Reads DATA_DIR/events/*.json as
// NDJSON with the four schema columns as strings, left-joins songs.csv and users.csv,
// derives event_time (ISO 8601 with or without offset, or epoch seconds/milliseconds),
// drops what encore would quarantine (unparseable lines, a missing user_id, song_id or
// timestamp, a timestamp that does not parse), and writes the enriched table
// MUSIC_EVENTS, in encore's column order, into a DuckDB database file: the peer of
// encore writing SQLite. Prints one line: rows=N seconds=S threads=T.
import { DuckDBInstance } from '@duckdb/node-api';

const [dataDir, outPath, threads] = process.argv.slice(2);
if (!dataDir || !outPath || !threads) {
    console.error('usage: node duckdb_job.mjs DATA_DIR OUT.duckdb THREADS');
    process.exit(2);
}
const q = (s) => `'${s.replaceAll("'", "''")}'`;

const t0 = process.hrtime.bigint();
const db = await DuckDBInstance.create(outPath, { threads: String(threads) });
const con = await db.connect();
await con.run(`SET threads = ${Number(threads)}`);
await con.run(`SET TimeZone = 'UTC'`).catch(() => {}); // without ICU the session is UTC anyway
await con.run(`
CREATE OR REPLACE TABLE MUSIC_EVENTS AS
WITH ev AS (
    SELECT * FROM read_ndjson(${q(dataDir + '/events/*.json')},
        columns = {user_id: 'VARCHAR', song_id: 'VARCHAR', timestamp: 'VARCHAR', device: 'VARCHAR'},
        ignore_errors = true)
), timed AS (
    SELECT *, CASE WHEN regexp_full_match(timestamp, '[0-9]+(\\.[0-9]+)?')
                   THEN make_timestamp(CAST(CASE WHEN CAST(timestamp AS DOUBLE) >= 1e11
                                                 THEN CAST(timestamp AS DOUBLE) * 1000
                                                 ELSE CAST(timestamp AS DOUBLE) * 1000000 END AS BIGINT))
                   ELSE CAST(try_cast(timestamp AS TIMESTAMPTZ) AS TIMESTAMP) END AS event_time
    FROM ev
    WHERE user_id IS NOT NULL AND song_id IS NOT NULL AND timestamp IS NOT NULL
)
SELECT t.song_id, t.user_id, coalesce(t.device, u.device) AS device, t.timestamp,
       CAST(NULL AS VARCHAR) AS _rescued_data, u.country, u.subscription,
       s.title, s.artist, s.genre, s.duration, t.event_time
FROM timed t
LEFT JOIN read_csv(${q(dataDir + '/songs.csv')}, header = true,
    columns = {song_id: 'VARCHAR', title: 'VARCHAR', artist: 'VARCHAR', genre: 'VARCHAR', duration: 'INTEGER'}) s
    ON s.song_id = t.song_id
LEFT JOIN read_csv(${q(dataDir + '/users.csv')}, header = true,
    columns = {user_id: 'VARCHAR', country: 'VARCHAR', subscription: 'VARCHAR', device: 'VARCHAR'}) u
    ON u.user_id = t.user_id
WHERE t.event_time IS NOT NULL`);
await con.run('CHECKPOINT');
const reader = await con.runAndReadAll('SELECT count(*)::BIGINT FROM MUSIC_EVENTS');
const rows = reader.getRows()[0][0];
con.closeSync();
db.closeSync();
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`rows=${rows} seconds=${secs.toFixed(3)} threads=${threads}`);
